/**
 * The backfill's repairs: an item whose schema fields changed (or that was deleted) between
 * the page's Scan and its validation read is put right with one transaction, on the
 * condition that the source is still what the validation read: a ConditionCheck on the
 * source item, a Put of every record derive(current) owns, and a Delete of every record the
 * page (or an earlier attempt of it) wrote that derive(current) does not own. A failed
 * source condition means the item changed again: it is read again (consistently) and the
 * repair retried. Each Put and Delete is conditional on the owner stamp
 * (definition/owner.ts): a Put refused over another migration's or the application's item
 * is reported as a failed item (RecordOwnedElsewhereError naming both sides), a refused
 * Delete leaves what is there; neither is ever written over. Conflicts and throttling are
 * retried with backoff (dynamo/transactions.ts, shared with verify's repair). A fence (a
 * read of the run record) is checked before every call, so a page in flight when pause,
 * abort or a rollback's abort is requested sends nothing more after the call in progress.
 */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { type DerivedRecord, type ItemKey, type Migration, type RecordTable, keysOf, recordTableOf } from "../definition/define-migration.ts";
import { deriveRecords, keyId, keyOf, keyText } from "../definition/derive.ts";
import { isSourceItem } from "../definition/source.ts";
import type { KeySchema } from "../dynamo/key-schema.ts";
import { RecordOwnedElsewhereError, ownedDeleteCondition, ownedPutCondition, plainItem } from "../definition/owner.ts";
import type { ReadStats } from "../dynamo/batch-get.ts";
import { itemSize } from "../dynamo/item-size.ts";
import { TRANSACTION_MAX_ACTIONS, type TransactionPart, TransactionRetriesExhaustedError, packParts, runTransactions } from "../dynamo/transactions.ts";
import { FerryError } from "../errors.ts";
import { type BackoffOptions, DEFAULT_BACKOFF, backoffDelay, sleep } from "../util/backoff.ts";
import { type SourceCondition, sourceConditionCheck, sourceGoneCondition, sourceUnchangedCondition } from "./source-condition.ts";
import { readCurrentSources } from "./validate.ts";

/** One transactional unit: a condition on one source item, the records to put and the keys to delete. */
export interface ConversionUnit {
  key: ItemKey;
  condition: SourceCondition;
  records: DerivedRecord[];
  deletes?: ItemKey[];
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

/**
 * Splits a unit into parts of at most 99 writes, each with its own copy of the condition. The
 * check is on the source item in `tableName`; the records go to `target` (default: the same
 * table; a `table` migration's target table, so one transaction spans both).
 */
function partsOf(tableName: string, keys: KeySchema, migrationId: string, unit: ConversionUnit, target: RecordTable = { tableName, keys }): Part[] {
  const check = sourceConditionCheck(tableName, unit.key, unit.condition);
  ({ tableName, keys } = target);
  const checkBytes = 200 + itemSize((unit.condition.ExpressionAttributeValues ?? {}) as Record<string, unknown>);
  const writes = [
    ...unit.records.map((Item) => ({
      action: { Put: { TableName: tableName, Item, ...ownedPutCondition(keys, migrationId, unit.key), ReturnValuesOnConditionCheckFailure: "ALL_OLD" } },
      bytes: itemSize(Item) + 50,
    })),
    ...(unit.deletes ?? []).map((key) => ({
      action: {
        Delete: {
          TableName: tableName,
          Key: keyOf(keys, key),
          ...ownedDeleteCondition(keys, migrationId, unit.key),
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        },
      },
      bytes: itemSize(key as unknown as Record<string, unknown>) + 50,
    })),
  ];
  const parts: Part[] = [];
  for (let i = 0; i < writes.length; i += TRANSACTION_MAX_ACTIONS - 1) {
    const slice = writes.slice(i, i + TRANSACTION_MAX_ACTIONS - 1);
    parts.push({ unit, actions: [check, ...slice.map((w) => w.action)], writes: slice.length, bytes: checkBytes + slice.reduce((n, w) => n + w.bytes, 0) });
  }
  return parts;
}

/** Greedy packing of units' parts into calls under the action and byte limits. */
export function packTransactions(tableName: string, keys: KeySchema, migrationId: string, units: ConversionUnit[], target?: RecordTable): Part[][] {
  return packParts(
    units.filter((unit) => unit.records.length + (unit.deletes?.length ?? 0) > 0).flatMap((unit) => partsOf(tableName, keys, migrationId, unit, target)),
  );
}

/** Whether the run may still write (see state.ts runStillWriting); false stops the page. */
export type RunFence = () => Promise<boolean>;

/** An item the validation read found changed or gone. */
export interface RepairRequest {
  key: ItemKey;
  /** The item as the validation read it (the schema's fields and keys); undefined: deleted. */
  current: Record<string, unknown> | undefined;
  /** Keys the page, or an earlier attempt of it, may have written for this item. */
  stale: ItemKey[];
}

export interface RepairStats {
  repaired: number;
  recordsWritten: number;
  recordsDeleted: number;
  /** Items whose current version fails the schema or derive: their stale records were deleted, the item is reported. */
  failures: { key: ItemKey; error: string; message: string }[];
  /** Puts refused because the key holds another migration's or the application's item. */
  refused: RecordOwnedElsewhereError[];
  calls: number;
  retries: number;
  consumedWriteUnits: number;
  consumedReadUnits: number;
}

export interface RepairOptions {
  backoff?: BackoffOptions;
  fence?: RunFence;
  /** Fields a re-read projects: the page's validation fields (default: the schema's). */
  fields?: string[];
}

/** Repairs every request; throws RunFencedError when the fence says stop, TransactionRetriesExhaustedError when an item keeps changing. */
export async function repairSources(
  doc: DynamoDBDocumentClient,
  tableName: string,
  migration: Migration,
  requests: RepairRequest[],
  options: RepairOptions = {},
): Promise<RepairStats> {
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const stats: RepairStats = {
    repaired: 0,
    recordsWritten: 0,
    recordsDeleted: 0,
    failures: [],
    refused: [],
    calls: 0,
    retries: 0,
    consumedWriteUnits: 0,
    consumedReadUnits: 0,
  };
  const reads: ReadStats = { consumedReadUnits: 0, consumedWriteUnits: 0 };
  // The records' table and keys (a `table` migration's target); the source check stays on tableName.
  const target = recordTableOf(migration, tableName);
  const keys = target.keys;
  const fields = options.fields ?? migration.readFields;
  const fence = options.fence;
  const beforeCall = fence
    ? async () => {
        if (!(await fence())) throw new RunFencedError();
      }
    : undefined;
  for (const request of requests) {
    let current = request.current;
    const droppedPuts = new Set<string>();
    const droppedDeletes = new Set<string>();
    let failure: RepairStats["failures"][number] | undefined;
    for (let changes = 0; ; ) {
      let puts: DerivedRecord[] = [];
      failure = undefined;
      if (current) {
        try {
          // An item that stopped matching `source.match` owns nothing any more.
          puts = isSourceItem(migration, current) ? deriveRecords(migration, current) : [];
        } catch (err) {
          // The current version owns nothing it can derive: its stale records go, the item is reported.
          if (!(err instanceof FerryError)) throw err;
          failure = { key: request.key, error: err.name, message: err.message };
        }
      }
      const owned = new Set(puts.map((r) => keyId(keys, r)));
      const deletes = [...new Map(request.stale.map((k) => [keyId(keys, k), k])).values()].filter(
        (k) => !owned.has(keyId(keys, k)) && !droppedDeletes.has(keyId(keys, k)),
      );
      const unit: ConversionUnit = {
        key: request.key,
        condition: current ? sourceUnchangedCondition(migration, current) : sourceGoneCondition(migration),
        records: puts.filter((r) => !droppedPuts.has(keyId(keys, r))),
        deletes,
      };
      const run = await runTransactions(doc, packTransactions(tableName, keys, migration.id, [unit], target), {
        backoff,
        advice: "lower --rate and resume with `ferry resume`",
        ...(beforeCall ? { beforeCall } : {}),
      });
      stats.calls += run.calls;
      stats.retries += run.retries;
      stats.consumedWriteUnits += run.consumedWriteUnits;
      const refusal = run.refused.get(unit);
      if (!refusal) {
        stats.repaired++;
        stats.recordsWritten += unit.records.length;
        stats.recordsDeleted += deletes.length;
        break;
      }
      const action = refusal.action as { Put?: { Item: DerivedRecord }; Delete?: { Key: ItemKey } };
      if (refusal.index === 0) {
        // The source changed again since the validation read: read it again and repair to that.
        if (++changes >= backoff.maxAttempts) {
          throw new TransactionRetriesExhaustedError(["SourceChanged"], changes, `${keyText(request.key)} keeps changing; resume with \`ferry resume\``);
        }
        await sleep(backoffDelay(changes, backoff));
        current = (await readCurrentSources(doc, tableName, migration, [request.key], backoff, reads, fields)).get(keyId(keysOf(migration), request.key));
      } else if (action.Put) {
        droppedPuts.add(keyId(keys, action.Put.Item));
        stats.refused.push(new RecordOwnedElsewhereError(migration.id, request.key, keyOf(keys, action.Put.Item), plainItem(refusal.item)));
      } else if (action.Delete) {
        // Not ours to delete: whatever holds the key stays.
        droppedDeletes.add(keyId(keys, action.Delete.Key));
      }
    }
    if (failure) stats.failures.push(failure);
  }
  stats.consumedReadUnits += reads.consumedReadUnits;
  return stats;
}
