/**
 * Compare-and-swap on one control record: read it, compute the next version, write it only
 * if it is still the version read (a condition on a field that changes with every write);
 * when another writer got there first, read again and re-apply the change on top. Two
 * release managers flipping at once, two terminals adding history entries, a pause and a
 * page updating the run record: one wins, the other re-applies, nothing is lost.
 */
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, PutCommand, type PutCommandInput } from "@aws-sdk/lib-dynamodb";
import { FerryError } from "../errors.ts";

/** How often a change is re-applied before giving up. */
export const DEFAULT_CAS_ATTEMPTS = 20;

/** The record changed under every attempt: too many concurrent writers. */
export class WriteConflictError extends FerryError {
  constructor(
    readonly data: { record: string; migrationId: string; attempts: number },
    options?: { cause?: unknown },
  ) {
    super(`The ${data.record} of ${data.migrationId} kept changing under this command (${data.attempts} attempts); run it again.`, options);
  }
}

/** One attempt: the value to return, and the conditional Put that makes it true (none: nothing to write). */
export interface CasAttempt<R> {
  value: R;
  put?: PutCommandInput;
}

export interface CasTarget {
  doc: DynamoDBDocumentClient;
  /** What the record is, for the conflict error: "state record", "release record". */
  record: string;
  migrationId: string;
  attempts?: number;
}

/**
 * Runs `attempt` (read, change, return the conditional Put) until its Put succeeds, or it
 * has nothing to write; re-runs it when the condition fails. Throws WriteConflictError after
 * `attempts` lost races.
 */
export async function compareAndSwap<R>(target: CasTarget, attempt: () => Promise<CasAttempt<R>>): Promise<R> {
  const attempts = target.attempts ?? DEFAULT_CAS_ATTEMPTS;
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    const next = await attempt();
    if (!next.put) return next.value;
    try {
      await target.doc.send(new PutCommand(next.put));
      return next.value;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      last = err;
    }
  }
  throw new WriteConflictError({ record: target.record, migrationId: target.migrationId, attempts }, { cause: last });
}

/**
 * The condition of a CAS Put: the field at `path` still holds `seen`, or, when nothing was
 * read (`seen` undefined), no record exists yet.
 */
export function unchangedSince(
  path: readonly string[],
  seen: unknown,
): Pick<PutCommandInput, "ConditionExpression" | "ExpressionAttributeNames" | "ExpressionAttributeValues"> {
  if (seen === undefined) return { ConditionExpression: "attribute_not_exists(PK)" };
  const names = Object.fromEntries(path.map((name, i) => [`#cas${i}`, name]));
  return {
    ConditionExpression: `${Object.keys(names).join(".")} = :seen`,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: { ":seen": seen },
  };
}
