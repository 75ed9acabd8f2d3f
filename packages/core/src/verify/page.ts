/**
 * One page of `ferry verify`: sorts the scanned items into source items, this migration's
 * records and everything else; checks each source item's derived records against the
 * table and each record against its owner (both with consistent BatchGets); counts the
 * defects and, when repairing, fixes them with guarded transactions.
 */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { isSourceItem } from "../backfill/page.ts";
import { type DerivedRecord, type ItemKey, type Migration, type RecordTable, keysOf, recordKeysOf, recordTableOf } from "../definition/define-migration.ts";
import {
  DeriveError,
  InvalidDerivedRecordsError,
  OWNER_ATTRIBUTE,
  SourceMatchError,
  SourceSchemaError,
  deriveRecords,
  keyId,
  keyOf,
  keyText,
  ownerOf,
  sameRecord,
} from "../definition/derive.ts";
import type { BackoffOptions } from "../util/backoff.ts";
import { type ReadStats, batchGetItems } from "../dynamo/batch-get.ts";
import { sameKey } from "../dynamo/key-schema.ts";
import { type OwnerGuard, type RepairCounts, type RepairUnit, deleteUnit, putUnit, runRepairs } from "./repair.ts";
import type { VerifyTally } from "./tally.ts";

export interface PageContext {
  doc: DynamoDBDocumentClient;
  tableName: string;
  migration: Migration;
  tally: VerifyTally;
  backoff: BackoffOptions;
  stats: ReadStats;
  /** Present when repairing: the running totals of what was fixed. */
  repairs?: RepairCounts;
  /**
   * What the scanned page holds (kind "table": the source table's pages hold only sources, the
   * target's only records); default both, as in one table.
   */
  side?: "sources" | "records";
}

/** Where the page's migration keeps its records: the source table (ctx.tableName) or a `table` migration's target. */
function recordsOf(ctx: PageContext): RecordTable {
  return recordTableOf(ctx.migration, ctx.tableName);
}

/** What an owner key holds, judged the way the dual-write would judge it. */
export type OwnerState =
  | { state: "absent" }
  | { state: "notSource" }
  | { state: "invalid"; reason: string }
  | { state: "valid"; item: Record<string, unknown>; records: Map<string, DerivedRecord> };

/** Why derive refuses a source item, in one line. */
export function invalidReason(err: unknown): string | undefined {
  if (err instanceof SourceSchemaError) return `schema: ${err.issues.join("; ")}`;
  if (err instanceof SourceMatchError) return `source.match threw: ${err.cause instanceof Error ? err.cause.message : String(err.cause)}`;
  if (err instanceof DeriveError) return `derive threw: ${err.cause instanceof Error ? err.cause.message : String(err.cause)}`;
  if (err instanceof InvalidDerivedRecordsError) return `derive returned invalid records: ${err.problems.join("; ")}`;
  return undefined;
}

/** Judges the item at an owner key (undefined: no item there). */
export function judgeOwner(migration: Migration, item: Record<string, unknown> | undefined): OwnerState {
  if (!item) return { state: "absent" };
  const keys = recordKeysOf(migration);
  try {
    if (!isSourceItem(migration, item)) return { state: "notSource" };
    const records = deriveRecords(migration, item);
    return { state: "valid", item, records: new Map(records.map((r) => [keyId(keys, r), r])) };
  } catch (err) {
    const reason = invalidReason(err);
    if (reason === undefined) throw err;
    return { state: "invalid", reason };
  }
}

/** Names the top-level attributes on which two records differ. */
export function differingAttributes(actual: Record<string, unknown>, expected: Record<string, unknown>): string[] {
  const names = new Set([...Object.keys(actual), ...Object.keys(expected)]);
  return [...names].filter((n) => !sameRecord({ v: actual[n] }, { v: expected[n] })).sort();
}

function holderOf(item: Record<string, unknown>): string {
  const stamp = item[OWNER_ATTRIBUTE] as { migration?: unknown } | undefined;
  return stamp && typeof stamp === "object" && typeof stamp.migration === "string"
    ? `a record of migration ${stamp.migration}`
    : "an item that is not a derived record";
}

/**
 * A scanned item that is a source item, or that passes the key selectors but whose `match`
 * throws: judgeOwner then reports it as an invalid source instead of verify stopping.
 */
function isSourceCandidate(migration: Migration, item: Record<string, unknown>): boolean {
  try {
    return isSourceItem(migration, item);
  } catch (err) {
    if (err instanceof SourceMatchError) return true;
    throw err;
  }
}

/** Verifies (and with ctx.repairs, repairs) one scanned page. */
export async function verifyPage(ctx: PageContext, items: Record<string, unknown>[]): Promise<void> {
  const { migration, tally } = ctx;
  const keys = keysOf(migration);
  const target = recordsOf(ctx);
  const counts = tally.counts;
  const sources: Record<string, unknown>[] = [];
  const stamped: { item: Record<string, unknown>; owner: ItemKey }[] = [];
  counts.scanned += items.length;
  for (const item of items) {
    const owner = ownerOf(item, migration.id);
    if (ctx.side !== "records" && isSourceCandidate(migration, item)) sources.push(item);
    else if (ctx.side !== "sources" && owner) stamped.push({ item, owner });
    else counts.other++;
  }
  counts.sources += sources.length;
  counts.derived += stamped.length;

  // Owners known on this page (the sources themselves) are judged once and reused below.
  const owners = new Map<string, OwnerState>();
  const puts = new Map<string, { source: Record<string, unknown>; records: DerivedRecord[] }>();
  const queuePut = (source: Record<string, unknown>, record: DerivedRecord) => {
    const entry = puts.get(keyId(keys, source)) ?? { source, records: [] };
    entry.records.push(record);
    puts.set(keyId(keys, source), entry);
  };
  let unrepairable = 0;
  // Records scanned on this page need no second read (0002's tasks sit right after their workflow).
  const onPage = new Map(stamped.map(({ item }) => [keyId(target.keys, item), item]));
  await checkSources(ctx, sources, onPage, owners, queuePut, () => unrepairable++);

  const deletes = await checkRecords(ctx, stamped, owners);
  if (!ctx.repairs) return;
  ctx.repairs.skipped += unrepairable;
  const removals: RepairUnit[] = [];
  for (const { guard, records } of deletes.values()) removals.push(deleteUnit(ctx.tableName, migration, guard, records, target));
  const writes: RepairUnit[] = [];
  const targeted = new Set<string>();
  for (const { source, records } of puts.values()) {
    // Two sources deriving one key would put it twice in a call: the second waits for the next verify.
    const free = records.filter((r) => !targeted.has(keyId(target.keys, r)));
    for (const r of free) targeted.add(keyId(target.keys, r));
    ctx.repairs.skipped += records.length - free.length;
    if (free.length > 0) writes.push(putUnit(ctx.tableName, migration, source, free, target));
  }
  // Deletes first, in their own calls: a stale stamp's key may be re-put for its real owner on the same page.
  for (const units of [removals, writes]) {
    const done = await runRepairs(ctx.doc, units, ctx.backoff, ctx.stats);
    ctx.repairs.put += done.put;
    ctx.repairs.deleted += done.deleted;
    ctx.repairs.skipped += done.skipped;
  }
}

/** Source side: every record a source item derives must be in the table, exactly. */
async function checkSources(
  ctx: PageContext,
  sources: Record<string, unknown>[],
  onPage: Map<string, Record<string, unknown>>,
  owners: Map<string, OwnerState>,
  queuePut: (source: Record<string, unknown>, record: DerivedRecord) => void,
  unrepairable: () => void,
): Promise<void> {
  const { migration, tally } = ctx;
  const keys = keysOf(migration);
  const target = recordsOf(ctx);
  const expected: { source: Record<string, unknown>; record: DerivedRecord }[] = [];
  for (const source of sources) {
    const state = judgeOwner(migration, source);
    owners.set(keyId(keys, source), state);
    if (state.state === "invalid") tally.defect({ kind: "invalidSource", key: keyOf(keys, source), detail: state.reason });
    if (state.state !== "valid") continue;
    tally.counts.expected += state.records.size;
    for (const record of state.records.values()) expected.push({ source, record });
  }
  if (expected.length === 0) return;
  const elsewhere = expected.map((e) => e.record).filter((r) => !onPage.has(keyId(target.keys, r)));
  const present = await batchGetItems(ctx.doc, target.tableName, target.keys, elsewhere, { backoff: ctx.backoff, stats: ctx.stats });
  for (const [id, item] of onPage) present.set(id, item);
  const claimed: { source: Record<string, unknown>; record: DerivedRecord; holder: ItemKey }[] = [];
  for (const { source, record } of expected) {
    const key = keyOf(target.keys, record);
    const owner = keyOf(keys, source);
    const actual = present.get(keyId(target.keys, record));
    if (!actual) {
      tally.defect({ kind: "missing", key, owner, detail: "not in the table" });
      queuePut(source, record);
      continue;
    }
    if (sameRecord(actual, record)) continue;
    const holder = ownerOf(actual, migration.id);
    if (!holder) {
      tally.defect({ kind: "missing", key, owner, detail: `the key holds ${holderOf(actual)}; not repaired: resolve the collision by hand` });
      unrepairable();
    } else if (sameKey(keys, holder, owner)) {
      tally.defect({ kind: "different", key, owner, detail: `attributes differ: ${differingAttributes(actual, record).join(", ")}` });
      queuePut(source, record);
    } else {
      claimed.push({ source, record, holder });
    }
  }
  if (claimed.length === 0) return;
  // The key is stamped for another owner: if that owner still derives it, two sources derive one key.
  await judgeOwners(
    ctx,
    claimed.map((c) => c.holder),
    owners,
  );
  for (const { source, record, holder } of claimed) {
    const state = owners.get(keyId(keys, holder));
    const key = keyOf(target.keys, record);
    const owner = keyOf(keys, source);
    if (state?.state === "valid" && state.records.has(keyId(target.keys, record))) {
      tally.defect({ kind: "different", key, owner, detail: `also derived by ${keyText(holder)}: two source items derive this key; fix derive` });
      unrepairable();
    } else if (state?.state === "invalid") {
      tally.defect({ kind: "different", key, owner, detail: `stamped for ${keyText(holder)}, an invalid source item` });
      queuePut(source, record);
    } else {
      // Counted once, as the orphan of its stamped owner (record side); repair re-puts it for its real owner.
      queuePut(source, record);
    }
  }
}

/** Reads and judges the owners not yet in `owners` (only the fields the schema reads). */
async function judgeOwners(ctx: PageContext, keys: ItemKey[], owners: Map<string, OwnerState>): Promise<void> {
  const keySchema = keysOf(ctx.migration);
  const wanted = keys.filter((k) => !owners.has(keyId(keySchema, k)));
  if (wanted.length === 0) return;
  const found = await batchGetItems(ctx.doc, ctx.tableName, keySchema, wanted, {
    backoff: ctx.backoff,
    stats: ctx.stats,
    // match reads any attribute of the raw item: then the whole item is read.
    ...(ctx.migration.source.match ? {} : { attributes: [...ctx.migration.readFields, OWNER_ATTRIBUTE] }),
  });
  for (const key of wanted) owners.set(keyId(keySchema, key), judgeOwner(ctx.migration, found.get(keyId(keySchema, key))));
}

/** Record side: every stamped record must still be derived by its owner. Returns the orphans to delete, by owner. */
async function checkRecords(
  ctx: PageContext,
  stamped: { item: Record<string, unknown>; owner: ItemKey }[],
  owners: Map<string, OwnerState>,
): Promise<Map<string, { guard: OwnerGuard; records: Record<string, unknown>[] }>> {
  const deletes = new Map<string, { guard: OwnerGuard; records: Record<string, unknown>[] }>();
  if (stamped.length === 0) return deletes;
  const keys = keysOf(ctx.migration);
  const recordKeys = recordsOf(ctx).keys;
  await judgeOwners(
    ctx,
    stamped.map((s) => s.owner),
    owners,
  );
  for (const { item, owner } of stamped) {
    const state = owners.get(keyId(keys, owner)) ?? { state: "absent" };
    const key = keyOf(recordKeys, item);
    let detail: string;
    let guard: OwnerGuard;
    if (state.state === "invalid") {
      ctx.tally.counts.unchecked++;
      continue;
    } else if (state.state === "valid") {
      // Derived by its owner: the source side compares it (a difference is counted there).
      if (state.records.has(keyId(recordKeys, key))) continue;
      detail = "its owner no longer derives this key";
      guard = { state: "unchanged", item: state.item };
    } else if (state.state === "absent") {
      detail = "its owner does not exist";
      guard = { state: "absent", key: owner };
    } else {
      detail = `its owner is not a source item of ${ctx.migration.id}`;
      guard = { state: "none" };
    }
    ctx.tally.defect({ kind: "orphan", key, owner, detail });
    const entry = deletes.get(keyId(keys, owner)) ?? { guard, records: [] };
    entry.records.push(item);
    deletes.set(keyId(keys, owner), entry);
  }
  return deletes;
}
