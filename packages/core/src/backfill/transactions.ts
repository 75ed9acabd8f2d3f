/**
 * Packs per-item conversion units into TransactWriteItems calls and runs them. Each unit is
 * a ConditionCheck on one source item plus a Put per derived record; several units share a
 * call (up to 100 actions) to amortize round trips. A unit whose condition fails is
 * deferred to the stream; conflicts and throttling are retried with backoff (both in
 * dynamo/transactions.ts, shared with verify's repair). A fence (a read
 * of the run record) is checked before every call and every retry, so a page still in flight
 * when pause, abort or a rollback's abort is requested sends nothing more after at most the
 * call in progress. The run record is not part of the transactions themselves: a check on one
 * shared item in every transaction of every segment would make them conflict on AWS.
 * Each Put is conditional on the owner stamp (definition/owner.ts): a key holding another
 * migration's or the application's item refuses the whole unit, which is reported as failed
 * (RecordOwnedElsewhereError naming both sides), never written over.
 */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { DerivedRecord, ItemKey } from "../definition/define-migration.ts";
import { keyOf } from "../definition/derive.ts";
import type { KeySchema } from "../dynamo/key-schema.ts";
import { RecordOwnedElsewhereError, ownedPutCondition, plainItem } from "../definition/owner.ts";
import { itemSize } from "../dynamo/item-size.ts";
import { TRANSACTION_MAX_ACTIONS, type TransactionPart, packParts, runTransactions } from "../dynamo/transactions.ts";
import { FerryError } from "../errors.ts";
import { type BackoffOptions, DEFAULT_BACKOFF } from "../util/backoff.ts";
import { type SourceCondition, sourceConditionCheck } from "./source-condition.ts";

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
    super(
      "The backfill run was asked to stop while a page was writing; the page's remaining writes were refused. Nothing to do: the page is redone if the run resumes.",
    );
  }
}

type Part = TransactionPart<ConversionUnit>;

/** Splits a unit into parts of at most 99 puts, each with its own copy of the condition. */
function partsOf(tableName: string, keys: KeySchema, migrationId: string, unit: ConversionUnit): Part[] {
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
          Put: { TableName: tableName, Item, ...ownedPutCondition(keys, migrationId, unit.key), ReturnValuesOnConditionCheckFailure: "ALL_OLD" },
        })),
      ],
      writes: records.length,
      bytes: checkBytes + records.reduce((n, r) => n + itemSize(r) + 50, 0),
    });
  }
  return parts;
}

/** Greedy packing of parts into calls under the action and byte limits. */
export function packTransactions(tableName: string, keys: KeySchema, migrationId: string, units: ConversionUnit[]): Part[][] {
  return packParts(units.filter((unit) => unit.records.length > 0).flatMap((unit) => partsOf(tableName, keys, migrationId, unit)));
}

/** Whether the run may still write (see state.ts runStillWriting); false stops the page. */
export type RunFence = () => Promise<boolean>;

/** Writes the units; returns what was converted and what was deferred. Throws RunFencedError when `fence` says stop. */
export async function writeUnits(
  doc: DynamoDBDocumentClient,
  tableName: string,
  keys: KeySchema,
  migrationId: string,
  units: ConversionUnit[],
  backoff: BackoffOptions = DEFAULT_BACKOFF,
  fence?: RunFence,
): Promise<TransactionStats> {
  const run = await runTransactions(doc, packTransactions(tableName, keys, migrationId, units), {
    backoff,
    advice: "lower --rate and resume with `ferry resume`",
    ...(fence
      ? {
          beforeCall: async () => {
            if (!(await fence())) throw new RunFencedError();
          },
        }
      : {}),
  });
  const stats: TransactionStats = {
    converted: 0,
    recordsWritten: 0,
    deferred: [],
    refused: [],
    calls: run.calls,
    retries: run.retries,
    consumedWriteUnits: run.consumedWriteUnits,
  };
  // The source check comes first: a changed source belongs to the stream, whatever else failed.
  const deferred = new Set([...run.refused].filter(([, r]) => r.index === 0).map(([unit]) => unit));
  const refused = new Map(
    [...run.refused]
      .filter(([, r]) => r.index > 0)
      .map(([unit, r]) => {
        const record = (r.action as { Put: { Item: DerivedRecord } }).Put.Item;
        return [unit, new RecordOwnedElsewhereError(migrationId, unit.key, keyOf(keys, record), plainItem(r.item))] as const;
      }),
  );
  const written = run.written;
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
