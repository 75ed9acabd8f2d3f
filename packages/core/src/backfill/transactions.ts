/**
 * Packs per-item conversion units into TransactWriteItems calls and runs them. Each unit is
 * a ConditionCheck on one source item plus a Put per derived record; several units share a
 * call (up to 100 actions) to amortize round trips. A unit whose condition fails is
 * deferred to the stream; conflicts and throttling are retried with backoff. A fence (a read
 * of the run record) is checked before every call and every retry, so a page still in flight
 * when pause, abort or a rollback's abort is requested sends nothing more after at most the
 * call in progress. The run record is not part of the transactions themselves: a check on one
 * shared item in every transaction of every segment would make them conflict on AWS.
 * Each Put is conditional on the owner stamp (definition/owner.ts): a key holding another
 * migration's or the application's item refuses the whole unit, which is reported as failed
 * (RecordOwnedElsewhereError naming both sides), never written over.
 */
import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import type { DerivedRecord, ItemKey } from "../definition/define-migration.ts";
import { keyOf } from "../definition/derive.ts";
import { RecordOwnedElsewhereError, ownedPutCondition, plainItem } from "../definition/owner.ts";
import { itemSize } from "../dynamo/item-size.ts";
import { FerryError } from "../errors.ts";
import { type BackoffOptions, DEFAULT_BACKOFF, backoffDelay, sleep } from "../util/backoff.ts";
import { type SourceCondition, sourceConditionCheck } from "./source-condition.ts";

/** DynamoDB's limits per TransactWriteItems call. */
export const TRANSACTION_MAX_ACTIONS = 100;
export const TRANSACTION_BYTE_BUDGET = 3_500_000; // under the 4 MB request limit, with room for overhead

/** Everything the backfill writes for one source item. */
export interface ConversionUnit {
  key: ItemKey;
  condition: SourceCondition;
  records: DerivedRecord[];
}

export interface TransactionStats {
  /** Units whose records were all written. */
  converted: number;
  recordsWritten: number;
  /** Units whose source changed after the read: the stream owns them. */
  deferred: ItemKey[];
  /** Units refused because a record's key holds another migration's or the application's item. */
  refused: RecordOwnedElsewhereError[];
  calls: number;
  retries: number;
  consumedWriteUnits: number;
}

/** The run was asked to stop (or replaced) while this page was writing: its writes were refused as a whole. */
export class RunFencedError extends FerryError {
  constructor() {
    super("The backfill run was asked to stop while a page was writing; the page's remaining writes were refused. Nothing to do: the page is redone if the run resumes.");
  }
}

export class TransactionRetriesExhaustedError extends FerryError {
  constructor(
    readonly reasons: string[],
    readonly attempts: number,
  ) {
    super(
      `TransactWriteItems kept failing after ${attempts} attempts (${reasons.join(", ")}); ` +
        "the table is throttling or contended: lower --rate and resume with `ferry resume`.",
    );
  }
}

type Action = Record<string, unknown>;

interface Part {
  unit: ConversionUnit;
  actions: Action[];
  bytes: number;
}

/** Splits a unit into parts of at most 99 puts, each with its own copy of the condition. */
function partsOf(tableName: string, migrationId: string, unit: ConversionUnit): Part[] {
  const check = sourceConditionCheck(tableName, unit.key, unit.condition);
  const checkBytes = 200 + itemSize((unit.condition.ExpressionAttributeValues ?? {}) as Record<string, unknown>);
  const parts: Part[] = [];
  for (let i = 0; i < unit.records.length; i += TRANSACTION_MAX_ACTIONS - 1) {
    const records = unit.records.slice(i, i + TRANSACTION_MAX_ACTIONS - 1);
    parts.push({
      unit,
      actions: [
        check,
        ...records.map((Item) => ({
          Put: { TableName: tableName, Item, ...ownedPutCondition(migrationId, unit.key), ReturnValuesOnConditionCheckFailure: "ALL_OLD" },
        })),
      ],
      bytes: checkBytes + records.reduce((n, r) => n + itemSize(r) + 50, 0),
    });
  }
  return parts;
}

/** Greedy packing of parts into calls under the action and byte limits. */
export function packTransactions(tableName: string, migrationId: string, units: ConversionUnit[]): Part[][] {
  return packParts(units.filter((unit) => unit.records.length > 0).flatMap((unit) => partsOf(tableName, migrationId, unit)));
}

/** Packs transaction parts, in order, into as few TransactWriteItems calls as the action and byte limits allow. */
export function packParts<P extends { actions: readonly unknown[]; bytes: number }>(parts: Iterable<P>): P[][] {
  const calls: P[][] = [];
  let current: P[] = [];
  let actions = 0;
  let bytes = 0;
  for (const part of parts) {
    if (current.length > 0 && (actions + part.actions.length > TRANSACTION_MAX_ACTIONS || bytes + part.bytes > TRANSACTION_BYTE_BUDGET)) {
      calls.push(current);
      current = [];
      actions = 0;
      bytes = 0;
    }
    current.push(part);
    actions += part.actions.length;
    bytes += part.bytes;
  }
  if (current.length > 0) calls.push(current);
  return calls;
}

const RETRYABLE_REASONS = new Set(["TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"]);

/** Whether the run may still write (see state.ts runStillWriting); false stops the page. */
export type RunFence = () => Promise<boolean>;

/** Writes the units; returns what was converted and what was deferred. Throws RunFencedError when `fence` says stop. */
export async function writeUnits(
  doc: DynamoDBDocumentClient,
  tableName: string,
  migrationId: string,
  units: ConversionUnit[],
  backoff: BackoffOptions = DEFAULT_BACKOFF,
  fence?: RunFence,
): Promise<TransactionStats> {
  const stats: TransactionStats = { converted: 0, recordsWritten: 0, deferred: [], refused: [], calls: 0, retries: 0, consumedWriteUnits: 0 };
  const deferred = new Set<ConversionUnit>();
  const refused = new Map<ConversionUnit, RecordOwnedElsewhereError>();
  const written = new Map<ConversionUnit, number>();
  for (const call of packTransactions(tableName, migrationId, units)) {
    let parts = call;
    for (let attempt = 1; parts.length > 0; attempt++) {
      parts = parts.filter((p) => !deferred.has(p.unit) && !refused.has(p.unit));
      if (parts.length === 0) break;
      if (attempt > 1) {
        stats.retries++;
        await sleep(backoffDelay(attempt - 1, backoff));
      }
      if (fence && !(await fence())) throw new RunFencedError();
      stats.calls++;
      try {
        const out = await doc.send(
          new TransactWriteCommand({ TransactItems: parts.flatMap((p) => p.actions) as never, ReturnConsumedCapacity: "TOTAL" }),
        );
        for (const c of out.ConsumedCapacity ?? []) stats.consumedWriteUnits += c.CapacityUnits ?? 0;
        for (const p of parts) written.set(p.unit, (written.get(p.unit) ?? 0) + p.actions.length - 1);
        parts = [];
      } catch (err) {
        if (!(err instanceof TransactionCanceledException)) throw err;
        const reasons = err.CancellationReasons ?? [];
        let offset = 0;
        let retryable = false;
        for (const p of parts) {
          const own = reasons.slice(offset, offset + p.actions.length);
          const codes = own.map((r) => r.Code ?? "None");
          offset += p.actions.length;
          // The source check comes first: a changed source belongs to the stream, whatever else failed.
          if (codes[0] === "ConditionalCheckFailed") deferred.add(p.unit);
          else if (codes.includes("ConditionalCheckFailed")) {
            const at = codes.indexOf("ConditionalCheckFailed");
            const record = (p.actions[at] as { Put: { Item: DerivedRecord } }).Put.Item;
            refused.set(p.unit, new RecordOwnedElsewhereError(migrationId, p.unit.key, keyOf(record), plainItem(own[at]?.Item)));
          } else if (codes.some((c) => RETRYABLE_REASONS.has(c))) retryable = true;
        }
        const anyDeferredHere = parts.some((p) => deferred.has(p.unit) || refused.has(p.unit));
        if (!anyDeferredHere && !retryable) {
          throw new FerryError(`TransactWriteItems was cancelled: ${reasons.map((r) => r.Code).join(", ")}`, { cause: err });
        }
        if (attempt >= backoff.maxAttempts) {
          throw new TransactionRetriesExhaustedError(reasons.map((r) => r.Code ?? "None"), attempt);
        }
      }
    }
  }
  for (const unit of units) {
    const refusal = refused.get(unit);
    if (deferred.has(unit)) stats.deferred.push(unit.key);
    else if (refusal) stats.refused.push(refusal);
    else if (unit.records.length === 0 || written.get(unit) === unit.records.length) {
      stats.converted++;
      stats.recordsWritten += unit.records.length;
    }
  }
  return stats;
}
