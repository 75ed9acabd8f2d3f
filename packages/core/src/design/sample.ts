/**
 * A bounded sample of a table for `check` and `plan`: Scan pages from several segments in
 * turn (so the sample spreads over the key space instead of the first partition), keeping
 * the migration's source items and counting everything scanned. For a `table` migration it
 * also reads the keys of the target's items that are not this migration's records, which its
 * records must not land on.
 */
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { DynamoClients } from "../aws/dynamodb.ts";
import { type Migration, keysOf, recordKeysOf } from "../definition/define-migration.ts";
import { SourceMatchError, keyId, ownerOf } from "../definition/derive.ts";
import { holderText } from "../definition/owner.ts";
import { isSourceItem } from "../definition/source.ts";
import { targetTableName, withTableKeys } from "../definition/table-keys.ts";
import { itemSize } from "../dynamo/item-size.ts";
import { type KeySchema, keySchemaOf } from "../dynamo/key-schema.ts";
import { TableNotFoundError } from "../dynamo/missing-table.ts";
import { describeTable } from "../dynamo/table.ts";

export interface SampleOptions {
  /** Source items to keep. */
  size: number;
  /** Parallel Scan segments visited in turn. */
  segments: number;
  /** Stop after scanning this many items even if fewer sources were found. */
  maxScanned: number;
  /** Scan Limit per page. */
  pageLimit: number;
  /** A `table` migration: also read its target's keys (check and the add guard compare records with them). */
  target?: boolean;
}

export const DEFAULT_SAMPLE_SIZE = 1_000;
export const DEFAULT_SAMPLE_OPTIONS: SampleOptions = { size: DEFAULT_SAMPLE_SIZE, segments: 4, maxScanned: 100_000, pageLimit: 250 };

export interface TableSample {
  tableName: string;
  /** The table's key schema (DescribeTable). */
  keys: KeySchema;
  /** Up to `size` source items, as stored. */
  sources: Record<string, unknown>[];
  /** Source items seen, including any beyond `size` on the last pages. */
  sourcesSeen: number;
  /** Items scanned, of any kind, and their total size. */
  scanned: number;
  scannedBytes: number;
  /** Bytes of the source items seen. */
  sourceBytes: number;
  /** Keys (keyId) of scanned items that are neither sources nor this migration's records, with who holds each (holderText). */
  otherKeys: Map<string, string>;
  /** True when every segment was read to its end: the counts are the table's. */
  complete: boolean;
  consumedReadUnits: number;
  /** A `table` migration's target: keys (keyId, the target's schema) of items that are not this migration's records. */
  target?: TargetSample;
}

export interface TargetSample {
  tableName: string;
  /** Absent: the target table does not exist yet (`ferry add` refuses until it does). */
  otherKeys?: Map<string, string>;
  scanned: number;
  complete: boolean;
}

// Where they always were for callers; both live with the key schema now.
export { TableNotFoundError } from "../dynamo/missing-table.ts";
export { KeySchemaMismatchError } from "../dynamo/key-schema.ts";

/** Samples `tableName` for `migration`'s source items; a table whose keys do not fit the migration is refused (KeySchemaMismatchError). */
export async function sampleTable(clients: DynamoClients, tableName: string, migration: Migration, options: Partial<SampleOptions> = {}): Promise<TableSample> {
  const o = { ...DEFAULT_SAMPLE_OPTIONS, ...options };
  const description = await describeTable(clients.raw, tableName);
  if (!description) throw new TableNotFoundError(tableName);
  const keys = keySchemaOf(description, tableName);
  migration = withTableKeys(migration, keys, tableName);
  const sample: TableSample = {
    tableName,
    keys,
    sources: [],
    sourcesSeen: 0,
    scanned: 0,
    scannedBytes: 0,
    sourceBytes: 0,
    otherKeys: new Map(),
    complete: false,
    consumedReadUnits: 0,
  };
  // Position of each unfinished segment; null before its first page.
  const open = new Map<number, Record<string, unknown> | null>(Array.from({ length: o.segments }, (_, s) => [s, null]));
  while (open.size > 0 && sample.sourcesSeen < o.size && sample.scanned < o.maxScanned) {
    for (const [segment, startKey] of [...open]) {
      const page = await clients.doc.send(
        new ScanCommand({
          TableName: tableName,
          Segment: segment,
          TotalSegments: o.segments,
          Limit: o.pageLimit,
          ExclusiveStartKey: startKey ?? undefined,
          ReturnConsumedCapacity: "TOTAL",
        }),
      );
      sample.consumedReadUnits += page.ConsumedCapacity?.CapacityUnits ?? 0;
      for (const item of page.Items ?? []) take(sample, migration, item, o.size);
      if (page.LastEvaluatedKey) open.set(segment, page.LastEvaluatedKey);
      else open.delete(segment);
      if (sample.sourcesSeen >= o.size || sample.scanned >= o.maxScanned) break;
    }
  }
  sample.complete = open.size === 0;
  if (o.target && migration.kind === "table") sample.target = await sampleTarget(clients, migration, o);
  return sample;
}

/** The target's items that are not this migration's records, up to `maxScanned` items (one Scan, pages of `pageLimit`). */
async function sampleTarget(clients: DynamoClients, migration: Migration, o: SampleOptions): Promise<TargetSample> {
  const tableName = targetTableName(migration) as string;
  if (!(await describeTable(clients.raw, tableName))) return { tableName, scanned: 0, complete: false };
  const keys = recordKeysOf(migration);
  const target: Required<TargetSample> = { tableName, otherKeys: new Map(), scanned: 0, complete: false };
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await clients.doc.send(new ScanCommand({ TableName: tableName, Limit: o.pageLimit, ExclusiveStartKey: startKey }));
    for (const item of page.Items ?? []) {
      target.scanned++;
      if (!ownerOf(item, migration.id)) target.otherKeys.set(keyId(keys, item), holderText(item));
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey && target.scanned < o.maxScanned);
  target.complete = !startKey;
  return target;
}

function take(sample: TableSample, migration: Migration, item: Record<string, unknown>, size: number): void {
  const bytes = itemSize(item);
  sample.scanned++;
  sample.scannedBytes += bytes;
  if (sourceOrThrowing(migration, item)) {
    sample.sourcesSeen++;
    sample.sourceBytes += bytes;
    if (sample.sources.length < size) sample.sources.push(item);
  } else if (!ownerOf(item, migration.id)) {
    sample.otherKeys.set(keyId(keysOf(migration), item), holderText(item));
  }
}

/** A source item, or one whose `match` throws (kept, so that check reports it). */
function sourceOrThrowing(migration: Migration, item: Record<string, unknown>): boolean {
  try {
    return isSourceItem(migration, item);
  } catch (err) {
    if (err instanceof SourceMatchError) return true;
    throw err;
  }
}
