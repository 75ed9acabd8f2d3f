/**
 * The one write of the attributes kind: an UpdateItem that SETs the owned attributes derive
 * asks for and REMOVEs the other owned ones, conditional on the item still existing with the
 * fields its derive read (the schema's, and those `source.match` reads: the backfill's
 * sourceUnchangedCondition) as they were in the image the values were derived from. derive is
 * a pure function of those fields, so a write that lands sets derive(current item); one that
 * does not land met a later change, whose own stream record follows and is the dual-write's
 * (superseded, not an error). The dual-write, the backfill page and verify's repair all write
 * through here; rollback removes through removeOwnedIfDerived.
 */
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { sourceUnchangedCondition } from "../../backfill/source-condition.ts";
import { retryThrottled } from "../../dynamo/throttled.ts";
import { type Migration, keysOf } from "../../definition/define-migration.ts";
import { keyOf } from "../../dynamo/key-schema.ts";
import { type BackoffOptions, DEFAULT_BACKOFF } from "../../util/backoff.ts";
import { InvalidDerivedAttributesError, type OwnedAttributes, ownedNames } from "./derive.ts";

/** What one conditional update did: landed, or met a later change (the stream's). */
export type UpdateOutcome = "written" | "superseded";

export interface UpdateOptions {
  backoff?: BackoffOptions;
  /** Called before the call and each retry (the backfill's run fence); throws to stop. */
  beforeCall?: () => Promise<void>;
  /** Adds the call's consumed write units. */
  stats?: { consumedWriteUnits: number; calls: number };
}

/** The UpdateItem input that sets `desired` on the item of `image`, conditional on `image`'s read fields. */
export function ownedUpdateInput(tableName: string, migration: Migration, image: Record<string, unknown>, desired: OwnedAttributes) {
  const condition = sourceUnchangedCondition(migration, image);
  const names: Record<string, string> = { ...condition.ExpressionAttributeNames };
  const values: Record<string, unknown> = { ...condition.ExpressionAttributeValues };
  const sets: string[] = [];
  const removes: string[] = [];
  ownedNames(migration).forEach((name, i) => {
    names[`#a${i}`] = name;
    if (desired[name] === undefined) removes.push(`#a${i}`);
    else {
      values[`:a${i}`] = desired[name];
      sets.push(`#a${i} = :a${i}`);
    }
  });
  const expression = [sets.length ? `SET ${sets.join(", ")}` : "", removes.length ? `REMOVE ${removes.join(", ")}` : ""].filter(Boolean).join(" ");
  return {
    TableName: tableName,
    Key: keyOf(keysOf(migration), image),
    UpdateExpression: expression,
    ConditionExpression: condition.ConditionExpression,
    ExpressionAttributeNames: names,
    ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
    ReturnConsumedCapacity: "TOTAL" as const,
  };
}

/**
 * Sets `desired` (and removes the other owned attributes) on the item `image` is a version of,
 * while its read fields are still `image`'s. Throttling is retried with backoff; a value
 * DynamoDB refuses (an index key of the wrong type) is an InvalidDerivedAttributesError.
 */
export async function updateOwned(
  doc: DynamoDBDocumentClient,
  tableName: string,
  migration: Migration,
  image: Record<string, unknown>,
  desired: OwnedAttributes,
  options: UpdateOptions = {},
): Promise<UpdateOutcome> {
  const input = ownedUpdateInput(tableName, migration, image, desired);
  try {
    const out = await retryThrottled(async () => {
      await options.beforeCall?.();
      return doc.send(new UpdateCommand(input));
    }, options.backoff ?? DEFAULT_BACKOFF);
    if (options.stats) {
      options.stats.calls++;
      options.stats.consumedWriteUnits += out.ConsumedCapacity?.CapacityUnits ?? 0;
    }
    return "written";
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) {
      if (options.stats) options.stats.calls++;
      return "superseded";
    }
    // A GSI key of the wrong type or an empty string: retrying the same values cannot succeed.
    if (err instanceof Error && err.name === "ValidationException") {
      throw new InvalidDerivedAttributesError(migration.id, input.Key, [`DynamoDB refused the update: ${err.message}`]);
    }
    throw err;
  }
}
