/**
 * Exact counts of a table's items and of a migration's source items, for `ferry plan`.
 *
 * A sample cannot give the source share reliably: a partition's items come in sort-key
 * order, so the first pages of a tenant hold, say, all its CTX# records before any WF# item.
 * Select COUNT cannot tell source items apart either (skPattern is a regular expression), so
 * this scans keys only (ProjectionExpression saves bandwidth, not read units: the scan costs
 * what the backfill's scan costs; with `source.match` the whole item, which match reads) and
 * stops at a bound.
 */
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { DynamoClients } from "../aws/dynamodb.ts";
import { type Migration, keysOf } from "../definition/define-migration.ts";
import { OWNER_ATTRIBUTE, SourceMatchError } from "../definition/derive.ts";
import { isSourceItem } from "../definition/source.ts";
import { keyNames } from "../dynamo/key-schema.ts";

export interface ItemCounts {
  items: number;
  sources: number;
  /** True when the bound stopped the scan: the counts are then lower bounds. */
  capped: boolean;
  consumedReadUnits: number;
}

export const DEFAULT_COUNT_SEGMENTS = 4;

/** Counts every item and every source item of `migration`, reading at most about `maxItems`. */
export async function countSourceItems(
  clients: DynamoClients,
  tableName: string,
  migration: Migration,
  maxItems: number,
  segments = DEFAULT_COUNT_SEGMENTS,
): Promise<ItemCounts> {
  const counts: ItemCounts = { items: 0, sources: 0, capped: false, consumedReadUnits: 0 };
  const names = [...keyNames(keysOf(migration)), OWNER_ATTRIBUTE];
  const projection = migration.source.match
    ? {}
    : { ProjectionExpression: names.map((_, i) => `#p${i}`).join(", "), ExpressionAttributeNames: Object.fromEntries(names.map((n, i) => [`#p${i}`, n])) };
  await Promise.all(
    Array.from({ length: segments }, async (_, segment) => {
      let startKey: Record<string, unknown> | undefined;
      do {
        if (counts.items >= maxItems) {
          counts.capped = true;
          return;
        }
        const page = await clients.doc.send(
          new ScanCommand({
            TableName: tableName,
            Segment: segment,
            TotalSegments: segments,
            ExclusiveStartKey: startKey,
            ...projection,
            ReturnConsumedCapacity: "TOTAL",
          }),
        );
        counts.consumedReadUnits += page.ConsumedCapacity?.CapacityUnits ?? 0;
        for (const item of page.Items ?? []) {
          counts.items++;
          if (countsAsSource(migration, item)) counts.sources++;
        }
        startKey = page.LastEvaluatedKey;
      } while (startKey);
    }),
  );
  return counts;
}

/** A source item; one whose `match` throws counts too (check names it; the backfill fails it). */
function countsAsSource(migration: Migration, item: Record<string, unknown>): boolean {
  try {
    return isSourceItem(migration, item);
  } catch (err) {
    if (err instanceof SourceMatchError) return true;
    throw err;
  }
}
