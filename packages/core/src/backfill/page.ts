/**
 * One backfill page: read a page of one Scan segment (eventually consistent), derive every
 * source item on it, write the records with plain writes (writes.ts: no condition on the
 * source, never over what another migration or the application owns), then read the page's
 * source items again with one consistent BatchGetItem (validate.ts) and repair, with a
 * transaction each, the items that changed or went meanwhile (transactions.ts). README
 * "Backfill" has the argument. Pure with respect to state: the caller checkpoints the
 * returned position and counters, and keeps the write-ahead note (pending.ts).
 */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { type DerivedRecord, type ItemKey, type Migration, keysOf, recordTableOf } from "../definition/define-migration.ts";
import { deriveRecords, keyId, keyOf } from "../definition/derive.ts";
import { isSourceItem } from "../definition/source.ts";
import type { ReadStats } from "../dynamo/batch-get.ts";
import { FerryError } from "../errors.ts";
import { type BackoffOptions, DEFAULT_BACKOFF } from "../util/backoff.ts";
import type { PendingOwners } from "./pending.ts";
import { scanSourcePage } from "./scan-page.ts";
import { type RepairRequest, type RunFence, RunFencedError, repairSources } from "./transactions.ts";
import { readCurrentSources, sameReadFields, validationFields } from "./validate.ts";
import { writePlain } from "./writes.ts";

export interface PageRequest {
  segment: number;
  totalSegments: number;
  pageSize: number;
  /** Where the previous page stopped; undefined for the segment's first page. */
  startKey?: Record<string, unknown>;
  /** Derive and count, write nothing. */
  dryRun?: boolean;
  /** Checked before every write call (state.ts runStillWriting): once it says stop, the page sends nothing more. */
  fence?: RunFence;
  /** Keys earlier attempts of this page noted before writing (pending.ts): validated and cleaned up with this page. */
  pending?: PendingOwners;
  /** Called with the keys the page is about to write, before it writes any (the write-ahead note). */
  beforeWrite?: (owners: PendingOwners) => Promise<void>;
}

/** Counters of a page; a segment's counters are their sum. */
export interface PageCounters {
  scanned: number;
  sources: number;
  converted: number;
  recordsWritten: number;
  /** Left to the stream: none since the validate design (kept so older checkpoints add up). */
  deferred: number;
  /** Items that changed or went between the Scan and the validation read, put right by a transaction. */
  repaired: number;
  failed: number;
  consumedReadUnits: number;
  consumedWriteUnits: number;
}

export interface PageFailure {
  key: ItemKey;
  error: string;
  message: string;
}

export interface PageResult {
  counters: PageCounters;
  /** Next page's start; undefined when the segment is finished. */
  lastKey?: Record<string, unknown>;
  failures: PageFailure[];
  deferredKeys: ItemKey[];
  /** Source items the validation found changed or gone, and repaired. */
  repairedKeys: ItemKey[];
  /** Records a dry run would have written. */
  wouldWrite: number;
  /** Calls (and statements) of the page that met throttling and were sent again: the caller slows down. */
  throttled?: number;
}

export const EMPTY_COUNTERS: PageCounters = {
  scanned: 0,
  sources: 0,
  converted: 0,
  recordsWritten: 0,
  deferred: 0,
  repaired: 0,
  failed: 0,
  consumedReadUnits: 0,
  consumedWriteUnits: 0,
};

// The one source rule lives in definition/source.ts; re-exported where callers have always found it.
export { isSourceItem } from "../definition/source.ts";

interface PageUnit {
  key: ItemKey;
  /** The item as the Scan read it. */
  item: Record<string, unknown>;
  records: DerivedRecord[];
}

/** Converts one page of one segment. */
export async function convertPage(
  doc: DynamoDBDocumentClient,
  tableName: string,
  migration: Migration,
  request: PageRequest,
  backoff: BackoffOptions = DEFAULT_BACKOFF,
): Promise<PageResult> {
  // A throttled call is sent again here (failing the page would redo its fence and lag reads), and counted.
  const tally = { throttled: 0 };
  const page = await scanSourcePage(doc, tableName, migration, request, backoff, tally);
  const keys = keysOf(migration);
  // Where the records go: the source table, or a `table` migration's target (its own key schema).
  const target = recordTableOf(migration, tableName);
  const counters: PageCounters = { ...EMPTY_COUNTERS, scanned: page.ScannedCount ?? page.Items?.length ?? 0 };
  counters.consumedReadUnits = page.ConsumedCapacity?.CapacityUnits ?? 0;
  const failures: PageFailure[] = [];
  const units: PageUnit[] = [];
  for (const item of page.Items ?? []) {
    try {
      // Inside the try: a `source.match` that throws fails this item, named, like a derive that throws.
      if (!isSourceItem(migration, item)) continue;
      counters.sources++;
      units.push({ key: keyOf(keys, item), item, records: deriveRecords(migration, item) });
    } catch (err) {
      // A bad item is recorded with its key and reason, never silently skipped, never retried.
      if (!(err instanceof FerryError)) throw err;
      counters.failed++;
      failures.push({ key: keyOf(keys, item), error: err.name, message: err.message });
    }
  }
  const wouldWrite = units.reduce((n, u) => n + u.records.length, 0);
  const rest = page.LastEvaluatedKey ? { lastKey: page.LastEvaluatedKey } : {};
  if (request.dryRun) {
    counters.converted = units.length;
    return { counters, ...rest, failures, deferredKeys: [], repairedKeys: [], wouldWrite, throttled: tally.throttled };
  }

  const fence = request.fence;
  const beforeCall = fence
    ? async () => {
        if (!(await fence())) throw new RunFencedError();
      }
    : undefined;
  if (units.length > 0) await request.beforeWrite?.(units.map((u) => [u.key, u.records.map((r) => keyOf(target.keys, r))]));
  const plain = await writePlain(doc, target.tableName, target.keys, migration.id, units, { backoff, tally, ...(beforeCall ? { beforeCall } : {}) });
  const failedKeys = new Set<string>();
  for (const [unit, refusal] of plain.refused) {
    // A record refused over another migration's or the application's item: the item is failed, with both named.
    failedKeys.add(keyId(keys, unit.key));
    failures.push({ key: refusal.owner, error: refusal.name, message: refusal.message });
  }

  // The validation read: the page's items (and those a dead attempt of it noted), consistently, after every write.
  const pending = new Map((request.pending ?? []).map(([owner, noted]) => [keyId(keys, owner), { owner, noted }]));
  const reads: ReadStats = { consumedReadUnits: 0, consumedWriteUnits: 0 };
  const readKeys = [...units.map((u) => u.key), ...[...pending.values()].map((p) => p.owner)];
  const fields = validationFields(
    migration,
    units.map((u) => u.item),
  );
  const current = await readCurrentSources(doc, tableName, migration, readKeys, backoff, reads, fields, tally);
  const repairs: RepairRequest[] = [];
  for (const unit of units) {
    const id = keyId(keys, unit.key);
    const now = current.get(id);
    const noted = pending.get(id)?.noted ?? [];
    pending.delete(id);
    const wrote = new Set(unit.records.map((r) => keyId(target.keys, r)));
    // Unchanged: this page's writes were derive(current), and a dead attempt wrote nothing derive(current) lacks.
    if (now && sameReadFields(migration, unit.item, now) && noted.every((k) => wrote.has(keyId(target.keys, k)))) continue;
    repairs.push({ key: unit.key, current: now, stale: [...(plain.written.get(unit) ?? []), ...noted] });
  }
  // Noted by a dead attempt but not on this page any more (deleted, or the page now ends earlier).
  for (const { owner, noted } of pending.values()) repairs.push({ key: owner, current: current.get(keyId(keys, owner)), stale: noted });
  const repaired = await repairSources(doc, tableName, migration, repairs, { backoff, fields, ...(fence ? { fence } : {}) });
  for (const f of repaired.failures) {
    failedKeys.add(keyId(keys, f.key));
    failures.push(f);
  }
  for (const refusal of repaired.refused) {
    failedKeys.add(keyId(keys, refusal.owner));
    failures.push({ key: refusal.owner, error: refusal.name, message: refusal.message });
  }
  counters.failed += failedKeys.size;
  counters.converted = units.filter((u) => !failedKeys.has(keyId(keys, u.key))).length;
  counters.recordsWritten = plain.recordsWritten + repaired.recordsWritten;
  counters.repaired = repaired.repaired;
  counters.consumedReadUnits += reads.consumedReadUnits + repaired.consumedReadUnits;
  counters.consumedWriteUnits = plain.consumedWriteUnits + repaired.consumedWriteUnits;
  return { counters, ...rest, failures, deferredKeys: [], repairedKeys: repairs.map((r) => r.key), wouldWrite, throttled: tally.throttled };
}
