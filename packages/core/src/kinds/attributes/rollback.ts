/**
 * Rollback of an attributes migration: a sweep (cleanup/sweep.ts: parallel, throttled,
 * checkpointed, resumable) over the items holding any owned attribute that REMOVEs exactly the
 * owned attributes whose value is what derive(current item) gives, conditional on those values
 * and on the item's read fields being as read. A value the application wrote differently
 * (or on an item that derives none) is never removed: it is counted skipped. A write in between
 * fails the condition; the item is read again and judged again.
 *
 * The dual-write must be stopped first (add's rollback guard): it would set them again.
 */
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { GetCommand, ScanCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { sourceUnchangedCondition } from "../../backfill/source-condition.ts";
import { retryThrottled } from "../../dynamo/throttled.ts";
import { type Migration, keysOf } from "../../definition/define-migration.ts";
import { OWNER_ATTRIBUTE, sameRecord } from "../../definition/derive.ts";
import { isSourceItem, sourceKeyFilter } from "../../definition/source.ts";
import { keyOf } from "../../dynamo/key-schema.ts";
import { FerryError } from "../../errors.ts";
import type { SweepTask } from "../../cleanup/sweep.ts";
import type { KindSweepContext } from "../kind.ts";
import { deriveAttributes, ownedNames, ownedOf } from "./derive.ts";

export const ATTRIBUTES_ROLLBACK_SWEEP = "rollback";
/** Attempts per item while concurrent writes keep changing it. */
export const MAX_ROLLBACK_ATTEMPTS = 10;
const ROLLBACK_CONCURRENCY = 16;

/** The owned attributes of `item` that ferry set: those equal to derive(item) (none on an item derive refuses or that is not a source). */
export function ferrySetAttributes(migration: Migration, item: Record<string, unknown>): string[] {
  let desired: Record<string, unknown>;
  try {
    if (OWNER_ATTRIBUTE in item || !isSourceItem(migration, item)) return [];
    desired = deriveAttributes(migration, item);
  } catch (err) {
    if (err instanceof FerryError) return [];
    throw err;
  }
  const held = ownedOf(migration, item);
  return Object.keys(held).filter((name) => desired[name] !== undefined && sameRecord({ v: held[name] }, { v: desired[name] }));
}

/** Removes `names` from the item while they hold `item`'s values and its read fields are unchanged; false when the item changed. */
async function removeIfUnchanged(ctx: KindSweepContext, item: Record<string, unknown>, names: string[]): Promise<boolean> {
  const condition = sourceUnchangedCondition(ctx.migration, item);
  const attrNames: Record<string, string> = { ...condition.ExpressionAttributeNames };
  const values: Record<string, unknown> = { ...condition.ExpressionAttributeValues };
  const clauses = [condition.ConditionExpression];
  names.forEach((name, i) => {
    attrNames[`#r${i}`] = name;
    values[`:r${i}`] = item[name];
    clauses.push(`#r${i} = :r${i}`);
  });
  try {
    await retryThrottled(
      () =>
        ctx.clients.doc.send(
          new UpdateCommand({
            TableName: ctx.tableName,
            Key: keyOf(keysOf(ctx.migration), item),
            UpdateExpression: `REMOVE ${names.map((_, i) => `#r${i}`).join(", ")}`,
            ConditionExpression: clauses.join(" AND "),
            ExpressionAttributeNames: attrNames,
            ExpressionAttributeValues: values,
          }),
        ),
      ctx.backoff,
    );
    return true;
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return false;
    throw err;
  }
}

/** One item: "removed" when ferry's values were removed (any the application wrote differently stay), "skipped" when none of its owned values is ferry's or it went. */
async function rollbackItem(ctx: KindSweepContext, read: Record<string, unknown>): Promise<"removed" | "skipped"> {
  let item: Record<string, unknown> | undefined = read;
  for (let attempt = 1; attempt <= MAX_ROLLBACK_ATTEMPTS && item; attempt++) {
    const names = ferrySetAttributes(ctx.migration, item);
    if (names.length === 0) return "skipped";
    if (await removeIfUnchanged(ctx, item, names)) return "removed";
    const out: { Item?: Record<string, unknown> } = await ctx.clients.doc.send(
      new GetCommand({ TableName: ctx.tableName, Key: keyOf(keysOf(ctx.migration), item), ConsistentRead: true }),
    );
    item = out.Item;
  }
  return "skipped";
}

/** The sweep that removes what ferry set (the attributes kind's rollbackTasks). */
export function removeDerivedAttributesTask(ctx: KindSweepContext): SweepTask<Record<string, unknown>> {
  const names = ownedNames(ctx.migration);
  const prefixes = sourceKeyFilter(ctx.migration);
  const attrNames: Record<string, string> = { ...prefixes?.ExpressionAttributeNames, ...Object.fromEntries(names.map((a, i) => [`#o${i}`, a])) };
  const holdsAny = `(${names.map((_, i) => `attribute_exists(#o${i})`).join(" OR ")})`;
  return {
    kind: ATTRIBUTES_ROLLBACK_SWEEP,
    doc: ctx.clients.doc,
    controlTable: ctx.controlTable,
    migrationId: ctx.migration.id,
    async scanPage(segment, totalSegments, startKey, limit) {
      const out = await ctx.clients.doc.send(
        new ScanCommand({
          TableName: ctx.tableName,
          Segment: segment,
          TotalSegments: totalSegments,
          Limit: limit,
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
          FilterExpression: prefixes ? `${prefixes.FilterExpression} AND ${holdsAny}` : holdsAny,
          ExpressionAttributeNames: attrNames,
          ...(prefixes ? { ExpressionAttributeValues: prefixes.ExpressionAttributeValues } : {}),
        }),
      );
      return { items: out.Items ?? [], scanned: out.ScannedCount ?? 0, ...(out.LastEvaluatedKey ? { lastKey: out.LastEvaluatedKey } : {}) };
    },
    async processPage(items) {
      let processed = 0;
      let skipped = 0;
      for (let i = 0; i < items.length; i += ROLLBACK_CONCURRENCY) {
        const outcomes = await Promise.all(items.slice(i, i + ROLLBACK_CONCURRENCY).map((item) => rollbackItem(ctx, item)));
        for (const o of outcomes) o === "removed" ? processed++ : skipped++;
      }
      return { processed, skipped };
    },
  };
}
