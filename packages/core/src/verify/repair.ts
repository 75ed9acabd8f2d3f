/**
 * `verify --repair` writes: each fix is a TransactWriteItems unit guarded by a
 * ConditionCheck on the owner (still exactly as verify read it) and a condition on the
 * record itself, so a repair never overwrites or deletes what a concurrent writer (the
 * dual-write) has changed since the scan. A unit whose condition fails is skipped and
 * counted: the stream owns that item, and the next verify shows the outcome.
 */
import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { sourceUnchangedCondition } from "../backfill/source-condition.ts";
import { TRANSACTION_MAX_ACTIONS, packParts } from "../backfill/transactions.ts";
import type { DerivedRecord, ItemKey, Migration } from "../definition/define-migration.ts";
import { OWNER_ATTRIBUTE, keyOf } from "../definition/derive.ts";
import { ownedPutCondition } from "../definition/owner.ts";
import { itemSize } from "../dynamo/item-size.ts";
import { FerryError } from "../errors.ts";
import { type BackoffOptions, backoffDelay, sleep } from "../util/backoff.ts";
import type { ReadStats } from "../dynamo/batch-get.ts";

const RETRYABLE_REASONS = new Set(["TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"]);

type Action = Record<string, unknown>;

export class RepairRetriesExhaustedError extends FerryError {
  constructor(
    readonly reasons: string[],
    readonly attempts: number,
  ) {
    super(
      `verify --repair: TransactWriteItems kept failing after ${attempts} attempts (${reasons.join(", ")}); ` +
        "the table is throttling or contended: lower --segments and run `ferry verify --repair` again.",
    );
  }
}

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

/** Puts `records` of `source` (as read) only while the source is unchanged and each key is free or this migration's. */
export function putUnit(tableName: string, migration: Migration, source: Record<string, unknown>, records: DerivedRecord[]): RepairUnit {
  const condition = sourceUnchangedCondition(migration, source);
  return {
    kind: "put",
    guard: { ConditionCheck: { TableName: tableName, Key: { PK: source.PK, SK: source.SK }, ...condition } },
    // Never overwrite an item that is not this migration's record of this source item.
    writes: records.map((Item) => ({ Put: { TableName: tableName, Item, ...ownedPutCondition(migration.id, keyOf(source as never)) } })),
    bytes: 200 + itemSize(source) + records.reduce((n, r) => n + itemSize(r) + 100, 0),
  };
}

/** How verify found an orphan's owner: what must still hold for the orphan to stay one. */
export type OwnerGuard = { state: "absent"; key: ItemKey } | { state: "unchanged"; item: Record<string, unknown> } | { state: "none" };

/** Deletes `records` (as read) while their stamp is unchanged and their owner is as verify found it. */
export function deleteUnit(tableName: string, migration: Migration, owner: OwnerGuard, records: Record<string, unknown>[]): RepairUnit {
  let guard: Action | undefined;
  if (owner.state === "absent") {
    guard = {
      ConditionCheck: {
        TableName: tableName,
        Key: { PK: owner.key.PK, SK: owner.key.SK },
        ConditionExpression: "attribute_not_exists(#sk)",
        ExpressionAttributeNames: { "#sk": "SK" },
      },
    };
  } else if (owner.state === "unchanged") {
    const condition = sourceUnchangedCondition(migration, owner.item);
    guard = { ConditionCheck: { TableName: tableName, Key: { PK: owner.item.PK, SK: owner.item.SK }, ...condition } };
  }
  return {
    kind: "delete",
    ...(guard ? { guard } : {}),
    writes: records.map((r) => ({
      Delete: {
        TableName: tableName,
        Key: { PK: r.PK, SK: r.SK },
        ConditionExpression: "#f = :stamp",
        ExpressionAttributeNames: { "#f": OWNER_ATTRIBUTE },
        ExpressionAttributeValues: { ":stamp": r[OWNER_ATTRIBUTE] },
      },
    })),
    bytes: 400 + (owner.state === "unchanged" ? itemSize(owner.item) : 0) + records.length * 300,
  };
}

interface Part {
  unit: RepairUnit;
  actions: Action[];
  bytes: number;
}

function partsOf(unit: RepairUnit): Part[] {
  const room = TRANSACTION_MAX_ACTIONS - (unit.guard ? 1 : 0);
  const parts: Part[] = [];
  const per = unit.bytes / Math.max(1, unit.writes.length);
  for (let i = 0; i < unit.writes.length; i += room) {
    const writes = unit.writes.slice(i, i + room);
    parts.push({ unit, actions: unit.guard ? [unit.guard, ...writes] : writes, bytes: per * writes.length + 400 });
  }
  return parts;
}

function pack(units: RepairUnit[]): Part[][] {
  return packParts(units.flatMap(partsOf));
}

/** Runs the units (several per call); returns what was written and what was skipped. */
export async function runRepairs(
  doc: DynamoDBDocumentClient,
  units: RepairUnit[],
  backoff: BackoffOptions,
  stats: ReadStats,
): Promise<RepairCounts> {
  const skipped = new Set<RepairUnit>();
  const written = new Map<RepairUnit, number>();
  for (const call of pack(units.filter((u) => u.writes.length > 0))) {
    let parts = call;
    // Contended or throttled calls wait and count; a refused unit is dropped and the rest resent at once.
    let contended = 0;
    let wait = false;
    while (parts.length > 0) {
      parts = parts.filter((p) => !skipped.has(p.unit));
      if (parts.length === 0) break;
      if (wait) await sleep(backoffDelay(contended, backoff));
      try {
        const out = await doc.send(
          new TransactWriteCommand({ TransactItems: parts.flatMap((p) => p.actions) as never, ReturnConsumedCapacity: "TOTAL" }),
        );
        for (const c of out.ConsumedCapacity ?? []) stats.consumedWriteUnits += c.CapacityUnits ?? 0;
        for (const p of parts) written.set(p.unit, (written.get(p.unit) ?? 0) + p.actions.length - (p.unit.guard ? 1 : 0));
        parts = [];
      } catch (err) {
        if (!(err instanceof TransactionCanceledException)) throw err;
        const reasons = err.CancellationReasons ?? [];
        let offset = 0;
        let retryable = false;
        let refused = false;
        for (const p of parts) {
          const codes = reasons.slice(offset, offset + p.actions.length).map((r) => r.Code ?? "None");
          offset += p.actions.length;
          if (codes.includes("ConditionalCheckFailed")) {
            skipped.add(p.unit);
            refused = true;
          } else if (codes.some((c) => RETRYABLE_REASONS.has(c))) retryable = true;
        }
        if (!refused && !retryable) {
          throw new FerryError(`TransactWriteItems was cancelled: ${reasons.map((r) => r.Code).join(", ")}`, { cause: err });
        }
        wait = !refused;
        if (wait && ++contended >= backoff.maxAttempts) {
          throw new RepairRetriesExhaustedError(reasons.map((r) => r.Code ?? "None"), contended);
        }
      }
    }
  }
  const counts: RepairCounts = { ...ZERO_REPAIRS };
  for (const unit of units) {
    const done = written.get(unit) ?? 0;
    counts[unit.kind === "put" ? "put" : "deleted"] += done;
    counts.skipped += unit.writes.length - done;
  }
  return counts;
}
