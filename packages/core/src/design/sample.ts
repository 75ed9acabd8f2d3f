/**
 * A bounded sample of a table for `check` and `plan`: Scan pages from several segments in
 * turn (so the sample spreads over the key space instead of the first partition), keeping
 * the migration's source items and counting everything scanned.
 */
import type { TableDescription } from "@aws-sdk/client-dynamodb";
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { DynamoClients } from "../aws/dynamodb.ts";
import { isSourceItem } from "../backfill/page.ts";
import type { Migration } from "../definition/define-migration.ts";
import { keyId, ownerOf } from "../definition/derive.ts";
import { holderText } from "../definition/owner.ts";
import { itemSize } from "../dynamo/item-size.ts";
import { UsageError } from "../errors.ts";
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
}

export const DEFAULT_SAMPLE_SIZE = 1_000;
export const DEFAULT_SAMPLE_OPTIONS: SampleOptions = { size: DEFAULT_SAMPLE_SIZE, segments: 4, maxScanned: 100_000, pageLimit: 250 };

export interface TableSample {
  tableName: string;
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
}

export class TableNotFoundError extends UsageError {
  constructor(readonly tableName: string) {
    super(`Table ${tableName} does not exist. Pass --table (and --endpoint), or create it with \`ferry seed\`.`);
  }
}

/** The table's key schema is not the one migrations address (PK and SK, both strings): nothing in it could be read as a source item. */
export class KeySchemaMismatchError extends UsageError {
  constructor(
    readonly tableName: string,
    readonly keys: string,
  ) {
    super(
      `Table ${tableName} is keyed by ${keys}; ferry's migrations read and write items keyed by PK (string, partition key) and SK (string, sort key). Pass the right --table.`,
    );
  }
}

/** Throws KeySchemaMismatchError unless `table` has the PK/SK string key schema. */
export function requireMigrationKeySchema(table: TableDescription, tableName: string): void {
  const type = (name: string) => table.AttributeDefinitions?.find((a) => a.AttributeName === name)?.AttributeType;
  const hash = table.KeySchema?.find((k) => k.KeyType === "HASH")?.AttributeName;
  const range = table.KeySchema?.find((k) => k.KeyType === "RANGE")?.AttributeName;
  if (hash !== "PK" || range !== "SK" || type("PK") !== "S" || type("SK") !== "S") {
    const keys = (table.KeySchema ?? [])
      .map((k) => `${k.AttributeName} (${type(k.AttributeName ?? "") ?? "?"}, ${k.KeyType === "HASH" ? "partition" : "sort"} key)`)
      .join(" and ");
    throw new KeySchemaMismatchError(tableName, keys || "no key schema");
  }
}

/** Samples `tableName` for `migration`'s source items. */
export async function sampleTable(clients: DynamoClients, tableName: string, migration: Migration, options: Partial<SampleOptions> = {}): Promise<TableSample> {
  const o = { ...DEFAULT_SAMPLE_OPTIONS, ...options };
  const description = await describeTable(clients.raw, tableName);
  if (!description) throw new TableNotFoundError(tableName);
  requireMigrationKeySchema(description, tableName);
  const sample: TableSample = {
    tableName,
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
  return sample;
}

function take(sample: TableSample, migration: Migration, item: Record<string, unknown>, size: number): void {
  const bytes = itemSize(item);
  sample.scanned++;
  sample.scannedBytes += bytes;
  if (isSourceItem(migration, item)) {
    sample.sourcesSeen++;
    sample.sourceBytes += bytes;
    if (sample.sources.length < size) sample.sources.push(item);
  } else if (!ownerOf(item, migration.id)) {
    sample.otherKeys.set(keyId(item as { PK: unknown; SK: unknown }), holderText(item));
  }
}
