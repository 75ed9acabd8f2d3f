/**
 * The backfill's plain writes: every derived record of a page is written at the price of a
 * plain write, with no condition on its source item (the validation read after them makes
 * a stale one harmless, see validate.ts) but never over what another migration or the
 * application owns. BatchWriteItem cannot carry a condition, so the records go out as
 * PartiQL `INSERT` statements, 25 per BatchExecuteStatement and up to 4 of those at once
 * (every one settled before writePlain returns or throws, so nothing of the page is in flight
 * at its validation read or after its failure): an INSERT is a write that
 * fails on a key already taken (DuplicateItem), billed as the same write units. Only a
 * record whose key is taken (the dual-write or an earlier attempt wrote it, or it is
 * someone else's) is written again as a PutItem conditional on the owner stamp (free key or
 * this migration's record of this owner); a refusal there is a RecordOwnedElsewhereError
 * naming both sides. The run fence is checked before every call.
 */
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { BatchExecuteStatementCommand, type DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { DerivedRecord, ItemKey } from "../definition/define-migration.ts";
import { keyId, keyOf } from "../definition/derive.ts";
import type { KeySchema } from "../dynamo/key-schema.ts";
import { RecordOwnedElsewhereError, ownedPutCondition, plainItem } from "../definition/owner.ts";
import { itemSize, writeUnits } from "../dynamo/item-size.ts";
import { FerryError } from "../errors.ts";
import { THROTTLED_CODES, type ThrottleTally, retryThrottled } from "../dynamo/throttled.ts";
import { type BackoffOptions, DEFAULT_BACKOFF, backoffDelay, sleep } from "../util/backoff.ts";

/** DynamoDB's limits of one BatchExecuteStatement call and one PartiQL statement. */
export const STATEMENTS_PER_BATCH = 25;
export const MAX_STATEMENT_CHARS = 8_192;
/** BatchExecuteStatement calls in flight at once for one call of writePlain. */
export const BATCHES_IN_FLIGHT = 4;
/** Conditional PutItems in flight at once for the records whose key was taken. */
const FALLBACK_CONCURRENCY = 8;

/** Statement errors that heal by waiting: throttling, and these. */
const RETRYABLE_CODES: ReadonlySet<string> = new Set([...THROTTLED_CODES, "TransactionConflict", "InternalServerError"]);

/** One source item's records, as the page writes them. */
export interface WriteUnit {
  key: ItemKey;
  records: DerivedRecord[];
}

export interface PlainWriteResult<U extends WriteUnit> {
  /** Keys written per unit (all of its records unless refused). */
  written: Map<U, ItemKey[]>;
  /** Units with a record refused over another migration's or the application's item. */
  refused: Map<U, RecordOwnedElsewhereError>;
  recordsWritten: number;
  calls: number;
  retries: number;
  consumedWriteUnits: number;
}

/** A statement DynamoDB refused for a reason waiting cannot heal (ValidationError, ItemCollectionSizeLimitExceeded...). */
export class StatementRefusedError extends FerryError {
  constructor(
    readonly tableName: string,
    readonly code: string,
    readonly key: ItemKey,
    detail: string,
  ) {
    super(`Writing a derived record to ${tableName} was refused (${code}: ${detail}). Fix the migration's derive for this record, then run \`ferry resume\`.`);
  }
}

/** Throttling or conflicts outlasted the backoff. */
export class StatementRetriesExhaustedError extends FerryError {
  constructor(
    readonly codes: string[],
    readonly attempts: number,
  ) {
    super(
      `Derived records kept failing after ${attempts} attempts (${codes.join(", ")}); the table is throttling: lower --rate and resume with \`ferry resume\`.`,
    );
  }
}

interface Pending<U> {
  unit: U;
  record: DerivedRecord;
  key: ItemKey;
}

/** `INSERT INTO "<table>" VALUE {'a': ?, ...}` with the record's values as parameters (names quoted, so any name works). */
export function insertStatement(tableName: string, record: Record<string, unknown>) {
  const names = Object.keys(record).filter((n) => record[n] !== undefined);
  return {
    Statement: `INSERT INTO "${tableName}" VALUE {${names.map((n) => `'${n.replaceAll("'", "''")}': ?`).join(", ")}}`,
    Parameters: names.map((n) => record[n]),
  };
}

/** Batches of at most 25 records with distinct keys (a batch naming one key twice is refused as a whole). */
function batchesOf<U>(writes: Pending<U>[], tableName: string, keys: KeySchema): { batches: Pending<U>[][]; fallback: Pending<U>[] } {
  const batches: Pending<U>[][] = [];
  const fallback: Pending<U>[] = [];
  const seen = new Set<string>();
  let batch: Pending<U>[] = [];
  for (const w of writes) {
    const id = keyId(keys, w.key);
    // The same key twice in a page (two owners deriving it): the second one is decided by the owner condition.
    if (seen.has(id) || insertStatement(tableName, w.record).Statement.length > MAX_STATEMENT_CHARS) {
      fallback.push(w);
      continue;
    }
    seen.add(id);
    batch.push(w);
    if (batch.length === STATEMENTS_PER_BATCH) {
      batches.push(batch);
      batch = [];
    }
  }
  if (batch.length > 0) batches.push(batch);
  return { batches, fallback };
}

/** Writes every unit's records; see the file comment. `beforeCall` (the run fence) may throw to stop. */
export async function writePlain<U extends WriteUnit>(
  doc: DynamoDBDocumentClient,
  tableName: string,
  keys: KeySchema,
  migrationId: string,
  units: U[],
  options: { backoff?: BackoffOptions; beforeCall?: () => Promise<void>; tally?: ThrottleTally } = {},
): Promise<PlainWriteResult<U>> {
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const result: PlainWriteResult<U> = { written: new Map(), refused: new Map(), recordsWritten: 0, calls: 0, retries: 0, consumedWriteUnits: 0 };
  const done = (w: Pending<U>) => {
    const keys = result.written.get(w.unit) ?? [];
    keys.push(w.key);
    result.written.set(w.unit, keys);
    result.recordsWritten++;
  };
  for (const unit of units) result.written.set(unit, []);
  const { batches, fallback } = batchesOf(
    units.flatMap((unit) => unit.records.map((record) => ({ unit, record, key: keyOf(keys, record) }))),
    tableName,
    keys,
  );
  const writeBatch = async (first: Pending<U>[]) => {
    let pending = first;
    let codes: string[] = [];
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) {
        if (attempt >= backoff.maxAttempts) throw new StatementRetriesExhaustedError([...new Set(codes)], attempt);
        result.retries++;
        await sleep(backoffDelay(attempt, backoff));
      }
      if (stopped) return;
      await options.beforeCall?.();
      result.calls++;
      const statements = pending.map((w) => insertStatement(tableName, w.record));
      const out = await retryThrottled(
        () => doc.send(new BatchExecuteStatementCommand({ Statements: statements as never, ReturnConsumedCapacity: "TOTAL" })),
        backoff,
        options.tally,
      );
      const reported = (out.ConsumedCapacity ?? []).reduce((n, c) => n + (c.CapacityUnits ?? 0), 0);
      let estimated = 0;
      const again: Pending<U>[] = [];
      codes = [];
      for (const [i, w] of pending.entries()) {
        const error = out.Responses?.[i]?.Error;
        if (!error) {
          done(w);
          estimated += writeUnits(itemSize(w.record));
        } else if (error.Code === "DuplicateItem" || error.Code === "ConditionalCheckFailed") fallback.push(w);
        else if (RETRYABLE_CODES.has(error.Code ?? "")) {
          again.push(w);
          codes.push(error.Code as string);
          if (options.tally && THROTTLED_CODES.has(error.Code as string)) options.tally.throttled++;
        } else throw new StatementRefusedError(tableName, error.Code ?? "unknown", w.key, error.Message ?? "no message");
      }
      // DynamoDB Local reports no capacity for BatchExecuteStatement: counted as AWS bills an INSERT (1 unit per KB).
      result.consumedWriteUnits += out.ConsumedCapacity?.length ? reported : estimated;
      pending = again;
    }
  };
  // A few batches in flight: a page pays about one round trip for its records, not one per 25.
  let stopped = false;
  let next = 0;
  const worker = async () => {
    while (!stopped && next < batches.length) {
      const batch = batches[next++] as Pending<U>[];
      try {
        await writeBatch(batch);
      } catch (err) {
        // The fence (or a refusal) stops the page: no batch is sent after it.
        stopped = true;
        throw err;
      }
    }
  };
  const workers = await Promise.allSettled(Array.from({ length: Math.min(BATCHES_IN_FLIGHT, batches.length) }, worker));
  const failed = workers.find((w): w is PromiseRejectedResult => w.status === "rejected");
  if (failed) throw failed.reason;
  await writeTaken(doc, tableName, keys, migrationId, fallback, result, done, backoff, options.beforeCall, options.tally);
  return result;
}

/** The records whose key was taken: a PutItem each, conditional on the owner stamp. */
async function writeTaken<U extends WriteUnit>(
  doc: DynamoDBDocumentClient,
  tableName: string,
  keys: KeySchema,
  migrationId: string,
  writes: Pending<U>[],
  result: PlainWriteResult<U>,
  done: (w: Pending<U>) => void,
  backoff: BackoffOptions,
  beforeCall?: () => Promise<void>,
  tally?: ThrottleTally,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < writes.length) {
      const w = writes[next++] as Pending<U>;
      if (result.refused.has(w.unit)) continue;
      await beforeCall?.();
      result.calls++;
      try {
        const out = await retryThrottled(
          () =>
            doc.send(
              new PutCommand({
                TableName: tableName,
                Item: w.record,
                ...ownedPutCondition(keys, migrationId, w.unit.key),
                ReturnValuesOnConditionCheckFailure: "ALL_OLD",
                ReturnConsumedCapacity: "TOTAL",
              }),
            ),
          backoff,
          tally,
        );
        result.consumedWriteUnits += out.ConsumedCapacity?.CapacityUnits ?? 0;
        done(w);
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
        result.refused.set(w.unit, new RecordOwnedElsewhereError(migrationId, w.unit.key, w.key, plainItem(err.Item)));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(FALLBACK_CONCURRENCY, writes.length) }, worker));
}
