/**
 * One backfill page: read a page of one Scan segment (consistent reads), derive every
 * source item on it, and write the records conditionally on the source being unchanged.
 * Pure with respect to state: the caller checkpoints the returned position and counters.
 */
import { type DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { type ItemKey, type Migration, keysOf } from "../definition/define-migration.ts";
import { deriveRecords, keyOf } from "../definition/derive.ts";
import { isSourceItem, sourceKeyFilter } from "../definition/source.ts";
import { FerryError } from "../errors.ts";
import type { BackoffOptions } from "../util/backoff.ts";
import { sourceUnchangedCondition } from "./source-condition.ts";
import { type ConversionUnit, type RunFence, writeUnits } from "./transactions.ts";

export interface PageRequest {
  segment: number;
  totalSegments: number;
  pageSize: number;
  /** Where the previous page stopped; undefined for the segment's first page. */
  startKey?: Record<string, unknown>;
  /** Derive and count, write nothing. */
  dryRun?: boolean;
  /** Checked before every transaction call (state.ts runStillWriting): once it says stop, the page sends nothing more. */
  fence?: RunFence;
}

/** Counters of a page; a segment's counters are their sum. */
export interface PageCounters {
  scanned: number;
  sources: number;
  converted: number;
  recordsWritten: number;
  deferred: number;
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
  /** Records a dry run would have written. */
  wouldWrite: number;
}

export const EMPTY_COUNTERS: PageCounters = {
  scanned: 0,
  sources: 0,
  converted: 0,
  recordsWritten: 0,
  deferred: 0,
  failed: 0,
  consumedReadUnits: 0,
  consumedWriteUnits: 0,
};

// The one source rule lives in definition/source.ts; re-exported where callers have always found it.
export { isSourceItem } from "../definition/source.ts";

/** Converts one page of one segment. */
export async function convertPage(
  doc: DynamoDBDocumentClient,
  tableName: string,
  migration: Migration,
  request: PageRequest,
  backoff?: BackoffOptions,
): Promise<PageResult> {
  const page = await doc.send(
    new ScanCommand({
      TableName: tableName,
      Segment: request.segment,
      TotalSegments: request.totalSegments,
      Limit: request.pageSize,
      ExclusiveStartKey: request.startKey,
      ConsistentRead: true,
      ReturnConsumedCapacity: "TOTAL",
      // Key prefixes are filtered by DynamoDB: the page may come back empty with a LastEvaluatedKey (not the end).
      ...sourceKeyFilter(migration),
    }),
  );
  const counters: PageCounters = { ...EMPTY_COUNTERS, scanned: page.ScannedCount ?? page.Items?.length ?? 0 };
  counters.consumedReadUnits = page.ConsumedCapacity?.CapacityUnits ?? 0;
  const failures: PageFailure[] = [];
  const units: ConversionUnit[] = [];
  const keys = keysOf(migration);
  for (const item of page.Items ?? []) {
    try {
      // Inside the try: a `source.match` that throws fails this item, named, like a derive that throws.
      if (!isSourceItem(migration, item)) continue;
      counters.sources++;
      units.push({ key: keyOf(keys, item), condition: sourceUnchangedCondition(migration, item), records: deriveRecords(migration, item) });
    } catch (err) {
      // A bad item is recorded with its key and reason, never silently skipped, never retried.
      if (!(err instanceof FerryError)) throw err;
      counters.failed++;
      failures.push({ key: keyOf(keys, item), error: err.name, message: err.message });
    }
  }
  const wouldWrite = units.reduce((n, u) => n + u.records.length, 0);
  let deferredKeys: ItemKey[] = [];
  if (request.dryRun) {
    counters.converted = units.length;
  } else {
    const written = await writeUnits(doc, tableName, keys, migration.id, units, backoff, request.fence);
    // A unit refused over another migration's or the application's item is a failed item, with both named.
    for (const refusal of written.refused) {
      counters.failed++;
      failures.push({ key: refusal.owner, error: refusal.name, message: refusal.message });
    }
    counters.converted = written.converted;
    counters.recordsWritten = written.recordsWritten;
    counters.deferred = written.deferred.length;
    counters.consumedWriteUnits = written.consumedWriteUnits;
    deferredKeys = written.deferred;
  }
  return {
    counters,
    ...(page.LastEvaluatedKey ? { lastKey: page.LastEvaluatedKey } : {}),
    failures,
    deferredKeys,
    wouldWrite,
  };
}
