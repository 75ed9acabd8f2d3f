/**
 * `verify --repair` writes: each fix is a TransactWriteItems unit guarded by a
 * ConditionCheck on the owner (still exactly as verify read it) and a condition on the
 * record itself, so a repair never overwrites or deletes what a concurrent writer (the
 * dual-write) has changed since the scan. A unit whose condition fails is skipped and
 * counted: the stream owns that item, and the next verify shows the outcome.
 */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { sourceItemCheck } from "../backfill/source-condition.ts";
import { type DerivedRecord, type ItemKey, type Migration, type RecordTable, keysOf } from "../definition/define-migration.ts";
import { OWNER_ATTRIBUTE, keyOf } from "../definition/derive.ts";
import { ownedPutCondition } from "../definition/owner.ts";
import { itemSize } from "../dynamo/item-size.ts";
import { TRANSACTION_MAX_ACTIONS, type TransactionAction as Action, type TransactionPart, packParts, runTransactions } from "../dynamo/transactions.ts";
import type { BackoffOptions } from "../util/backoff.ts";
import type { ReadStats } from "../dynamo/batch-get.ts";

/** Records fixed by a repair, and records left alone because they changed meanwhile or conflict. */
export interface RepairCounts {
  put: number;
  deleted: number;
  skipped: number;
}

export const ZERO_REPAIRS: RepairCounts = { put: 0, deleted: 0, skipped: 0 };

/** The writes for one owner, all or nothing with its guard. */
export interface RepairUnit {
  kind: "put" | "delete";
  /** ConditionCheck on the owner; absent when the owner's state cannot change what is right. */
  guard?: Action;
  writes: Action[];
  bytes: number;
}

/**
 * Puts `records` of `source` (as read) only while the source is unchanged and each key is free or
 * this migration's. `target`: where the records live (default: the source table).
 */
export function putUnit(
  tableName: string,
  migration: Migration,
  source: Record<string, unknown>,
  records: DerivedRecord[],
  target: RecordTable = { tableName, keys: keysOf(migration) },
): RepairUnit {
  const keys = keysOf(migration);
  return {
    kind: "put",
    guard: sourceItemCheck(tableName, migration, source),
    // Never overwrite an item that is not this migration's record of this source item.
    writes: records.map((Item) => ({
      Put: { TableName: target.tableName, Item, ...ownedPutCondition(target.keys, migration.id, keyOf(keys, source)) },
    })),
    bytes: 200 + itemSize(source) + records.reduce((n, r) => n + itemSize(r) + 100, 0),
  };
}

/** How verify found an orphan's owner: what must still hold for the orphan to stay one. */
export type OwnerGuard = { state: "absent"; key: ItemKey } | { state: "unchanged"; item: Record<string, unknown> } | { state: "none" };

/** Deletes `records` (as read) while their stamp is unchanged and their owner is as verify found it. */
export function deleteUnit(
  tableName: string,
  migration: Migration,
  owner: OwnerGuard,
  records: Record<string, unknown>[],
  target: RecordTable = { tableName, keys: keysOf(migration) },
): RepairUnit {
  const keys = keysOf(migration);
  let guard: Action | undefined;
  if (owner.state === "absent") {
    guard = {
      ConditionCheck: {
        TableName: tableName,
        Key: keyOf(keys, owner.key),
        ConditionExpression: "attribute_not_exists(#pk)",
        ExpressionAttributeNames: { "#pk": keys.partitionKey.name },
      },
    };
  } else if (owner.state === "unchanged") {
    guard = sourceItemCheck(tableName, migration, owner.item);
  }
  return {
    kind: "delete",
    ...(guard ? { guard } : {}),
    writes: records.map((r) => ({
      Delete: {
        TableName: target.tableName,
        Key: keyOf(target.keys, r),
        ConditionExpression: "#f = :stamp",
        ExpressionAttributeNames: { "#f": OWNER_ATTRIBUTE },
        ExpressionAttributeValues: { ":stamp": r[OWNER_ATTRIBUTE] },
      },
    })),
    bytes: 400 + (owner.state === "unchanged" ? itemSize(owner.item) : 0) + records.length * 300,
  };
}

type Part = TransactionPart<RepairUnit>;

function partsOf(unit: RepairUnit): Part[] {
  const room = TRANSACTION_MAX_ACTIONS - (unit.guard ? 1 : 0);
  const parts: Part[] = [];
  const per = unit.bytes / Math.max(1, unit.writes.length);
  for (let i = 0; i < unit.writes.length; i += room) {
    const writes = unit.writes.slice(i, i + room);
    parts.push({ unit, actions: unit.guard ? [unit.guard, ...writes] : writes, writes: writes.length, bytes: per * writes.length + 400 });
  }
  return parts;
}

function pack(units: RepairUnit[]): Part[][] {
  return packParts(units.flatMap(partsOf));
}

/** Runs the units (several per call); returns what was written and what was skipped. */
export async function runRepairs(doc: DynamoDBDocumentClient, units: RepairUnit[], backoff: BackoffOptions, stats: ReadStats): Promise<RepairCounts> {
  // A refused unit is skipped: the stream owns that item, the next verify shows the outcome.
  const run = await runTransactions(doc, pack(units.filter((u) => u.writes.length > 0)), {
    backoff,
    advice: "lower --segments and run `ferry verify --repair` again",
  });
  stats.consumedWriteUnits += run.consumedWriteUnits;
  const written = run.written;
  const counts: RepairCounts = { ...ZERO_REPAIRS };
  for (const unit of units) {
    const done = written.get(unit) ?? 0;
    counts[unit.kind === "put" ? "put" : "deleted"] += done;
    counts.skipped += unit.writes.length - done;
  }
  return counts;
}
