/**
 * Applies record plans to the data table in windows: consecutive plans whose derived keys
 * do not overlap are independent (their order cannot change the result), so one window's
 * puts and deletes go out together, several in flight, instead of one stream record after
 * the other. A plan that touches a key already in the window starts the next window, so two
 * changes of the same record are always written in stream order, unless the later change is
 * of a source item already in the window and no other plan writes its keys: then both fold
 * into one plan with the same result (ApplyWindow.merge).
 *
 * No write lands over another migration's or the application's item (definition/owner.ts). A
 * put whose key no earlier image of its source derived (`fresh`, dualwrite/plan.ts) goes out as
 * a PartiQL INSERT, 25 per BatchExecuteStatement (backfill/writes.ts writePlain): an INSERT
 * fails on a taken key, and a taken key is then written as a PutItem conditional on the owner
 * stamp, so it is the same owner-safe write at about a third of the engine's and the SDK's cost
 * of one request per record. Every other put and every delete is a conditional PutItem or
 * DeleteItem on the owner stamp (BatchWriteItem cannot carry conditions), kept in flight together.
 * Puts overwrite whole records of the same owner, so applying the same plans again changes nothing.
 * A write throttled past the SDK's own retries is sent again with backoff (dynamo/throttled.ts):
 * failing the window for it would make the whole batch wait out the mapping's retry delay, and
 * count an attempt towards the record's dead letter.
 */
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { keyId, keyOf } from "../definition/derive.ts";
import type { ItemKey } from "../definition/define-migration.ts";
import type { KeySchema } from "../dynamo/key-schema.ts";
import { RecordOwnedElsewhereError, ownedDeleteCondition, ownedPutCondition, plainItem } from "../definition/owner.ts";
import type { BatchWriteStats } from "../dynamo/batch-write.ts";
import { retryThrottled } from "../dynamo/throttled.ts";
import { STATEMENTS_PER_BATCH, type WriteUnit, writePlain } from "../backfill/writes.ts";
import { type BackoffOptions, DEFAULT_BACKOFF } from "../util/backoff.ts";
import type { RecordPlan } from "./plan.ts";

export type ApplyPlan = Extract<RecordPlan, { kind: "apply" }>;

/** How a window is written. */
export interface ApplyOptions {
  /** Conditional writes in flight at once (100 matched the old 4 BatchWriteItem calls of 25). */
  concurrency: number;
  /** Waits before a write throttled past the SDK's retries is sent again (default DEFAULT_BACKOFF). */
  backoff?: BackoffOptions;
}

export const DEFAULT_APPLY_OPTIONS: ApplyOptions = { concurrency: 100, backoff: DEFAULT_BACKOFF };

/** What applying a window did. Plans before `failure.index` are fully written; it and later ones may be partly written. */
export interface WindowResult {
  written: number;
  deleted: number;
  /** Deletes left alone because the key holds what another migration or the application owns. */
  keptDeletes: RecordOwnedElsewhereError[];
  /** Conditional writes that met a later change of their source item, whose own stream record follows (kind attributes). */
  superseded?: number;
  failure?: { index: number; error: unknown };
}

/** Collects key-disjoint plans; `fits` says whether a plan may join without reordering writes of a key. */
export class ApplyWindow<T> {
  readonly entries: { plan: ApplyPlan; tag: T; merged: number }[] = [];
  /** Derived key -> the entry whose plan writes it. */
  private readonly keys = new Map<string, number>();

  /**
   * `keySchema`: the derived records' table's; undefined only for a window that stays empty
   * (before the key schema is read). `ownerSchema`: the source table's (a `table` migration's
   * records are keyed otherwise than their owners), by default the same.
   */
  constructor(
    private readonly keySchema?: KeySchema,
    private readonly ownerSchema: KeySchema | undefined = keySchema,
  ) {}

  fits(plan: ApplyPlan): boolean {
    return planKeys(this.schema, plan).every((k) => !this.keys.has(k));
  }

  add(plan: ApplyPlan, tag: T): void {
    for (const k of planKeys(this.schema, plan)) this.keys.set(k, this.entries.length);
    this.entries.push({ plan, tag, merged: 0 });
  }

  /**
   * Folds a later change of a source item already in the window into that item's entry, when
   * no other entry writes any of its keys (so no other plan's order changes). The entry then
   * writes what applying both in order leaves: the later change's records, and deletes of every
   * key either one's old image owned or the earlier one put that the later one does not put
   * (owner-conditional, so a key of anyone else is still left alone). False when it cannot merge.
   */
  merge(plan: ApplyPlan): boolean {
    const schema = this.schema;
    const owners = this.ownerSchema ?? schema;
    const id = keyId(owners, plan.key);
    const at = this.entries.findIndex((e) => keyId(owners, e.plan.key) === id);
    const entry = this.entries[at];
    if (!entry || planKeys(schema, plan).some((k) => this.keys.has(k) && this.keys.get(k) !== at)) return false;
    const puts = new Set(plan.puts.map((r) => keyId(schema, r)));
    const deletes = new Map<string, ItemKey>();
    for (const key of [...entry.plan.deletes, ...entry.plan.puts.map((r) => keyOf(schema, r)), ...plan.deletes]) {
      if (!puts.has(keyId(schema, key))) deletes.set(keyId(schema, key), key);
    }
    entry.plan = { ...plan, deletes: [...deletes.values()] };
    entry.merged++;
    for (const k of planKeys(schema, entry.plan)) this.keys.set(k, at);
    return true;
  }

  /** True when some entry holds more than one change. */
  get coalesced(): boolean {
    return this.entries.some((e) => e.merged > 0);
  }

  get size(): number {
    return this.entries.length;
  }

  private get schema(): KeySchema {
    if (!this.keySchema) throw new Error("ApplyWindow used before the table's key schema was known");
    return this.keySchema;
  }
}

/**
 * Writes every plan of a key-disjoint window. On a failure (a refused put among them) it
 * launches no further write, lets the writes in flight finish, and names the earliest plan
 * with a failed write: every plan before it is written, so the caller can report it and
 * everything after it. A refused delete is not a failure: what holds the key is not ours to
 * delete, and leaving it is what the invariant asks; it is returned in `keptDeletes`.
 */
export async function applyWindow(
  doc: DynamoDBDocumentClient,
  tableName: string,
  keys: KeySchema,
  migrationId: string,
  plans: readonly ApplyPlan[],
  options: ApplyOptions = DEFAULT_APPLY_OPTIONS,
  stats?: BatchWriteStats,
): Promise<WindowResult> {
  const fresh: { index: number; unit: WriteUnit }[] = [];
  const writes: (Write & { index: number })[] = [];
  plans.forEach((plan, index) => {
    plan.puts.forEach((item, i) => {
      if (plan.fresh?.[i]) fresh.push({ index, unit: { key: plan.key, records: [item] } });
      else writes.push({ index, owner: plan.key, put: item as Record<string, unknown>, key: keyOf(keys, item) });
    });
    for (const key of plan.deletes) writes.push({ index, owner: plan.key, put: undefined, key });
  });
  let failure: WindowResult["failure"];
  const failAt = (index: number, error: unknown) => {
    if (!failure || index < failure.index) failure = { index, error };
  };
  const keptDeletes: RecordOwnedElsewhereError[] = [];
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const inFlight = new Set<Promise<void>>();
  const launch = async (call: () => Promise<void>) => {
    const running: Promise<void> = call().finally(() => inFlight.delete(running));
    inFlight.add(running);
    while (inFlight.size >= Math.max(1, options.concurrency)) await Promise.race(inFlight);
  };
  // One batch of INSERTs counts as one request in flight: a window's fresh records cost few calls.
  // Launched in plan order, the fresh chunks first: after a failure nothing of a later plan is
  // launched, but every write of an earlier plan still is (the result promises those written).
  const after = (index: number) => failure !== undefined && index >= failure.index;
  for (let i = 0; i < fresh.length; i += STATEMENTS_PER_BATCH) {
    const chunk = fresh.slice(i, i + STATEMENTS_PER_BATCH);
    if (after(chunk[0]?.index ?? 0)) break;
    await launch(() =>
      writePlain(
        doc,
        tableName,
        keys,
        migrationId,
        chunk.map((f) => f.unit),
        { backoff },
      ).then(
        (result) => {
          for (const f of chunk) {
            const refused = result.refused.get(f.unit);
            if (refused) failAt(f.index, refused);
          }
          if (stats) {
            stats.calls += result.calls;
            stats.written += result.recordsWritten;
            stats.consumedWriteUnits += result.consumedWriteUnits;
          }
        },
        // Which of the chunk's records landed is unknown: its earliest plan is the failure.
        (error: unknown) => failAt(chunk[0]?.index ?? 0, error),
      ),
    );
  }
  for (const write of writes) {
    if (after(write.index)) continue;
    await launch(() =>
      writeOne(doc, tableName, keys, migrationId, write, backoff, stats).then(
        (kept) => {
          if (kept) keptDeletes.push(kept);
        },
        (error: unknown) => failAt(write.index, error),
      ),
    );
  }
  await Promise.all(inFlight);
  const done = failure ? plans.slice(0, failure.index) : plans;
  return {
    written: done.reduce((n, p) => n + p.puts.length, 0),
    deleted: done.reduce((n, p) => n + p.deletes.length, 0),
    keptDeletes,
    ...(failure ? { failure } : {}),
  };
}

interface Write {
  owner: ItemKey;
  key: ItemKey;
  /** The record to put; undefined for a delete. */
  put: Record<string, unknown> | undefined;
}

/** One conditional write; throws RecordOwnedElsewhereError for a refused put, returns it for a refused delete. */
async function writeOne(
  doc: DynamoDBDocumentClient,
  tableName: string,
  keys: KeySchema,
  migrationId: string,
  write: Write,
  backoff: BackoffOptions,
  stats?: BatchWriteStats,
): Promise<RecordOwnedElsewhereError | undefined> {
  try {
    const out = await retryThrottled(
      () =>
        write.put
          ? doc.send(
              new PutCommand({
                TableName: tableName,
                Item: write.put,
                ...ownedPutCondition(keys, migrationId, write.owner),
                ReturnValuesOnConditionCheckFailure: "ALL_OLD",
                ReturnConsumedCapacity: "TOTAL",
              }),
            )
          : doc.send(
              new DeleteCommand({
                TableName: tableName,
                Key: write.key,
                ...ownedDeleteCondition(keys, migrationId, write.owner),
                ReturnValuesOnConditionCheckFailure: "ALL_OLD",
                ReturnConsumedCapacity: "TOTAL",
              }),
            ),
      backoff,
    );
    if (stats) {
      stats.calls++;
      stats.written++;
      stats.consumedWriteUnits += out.ConsumedCapacity?.CapacityUnits ?? 0;
    }
    return undefined;
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
    const refused = new RecordOwnedElsewhereError(migrationId, write.owner, write.key, plainItem(err.Item), write.put ? "put" : "delete");
    if (write.put) throw refused;
    return refused;
  }
}

function planKeys(keys: KeySchema, plan: ApplyPlan): string[] {
  return [...plan.puts.map((r) => keyId(keys, r)), ...plan.deletes.map((k) => keyId(keys, k))];
}
