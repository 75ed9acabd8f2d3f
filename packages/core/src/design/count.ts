/**
 * Exact counts of a table's items and of a migration's source items, for `ferry plan`.
 *
 * A sample cannot give the source share reliably: a partition's items come in sort-key
 * order, so the first pages of a tenant hold, say, all its CTX# records before any WF# item.
 * Select COUNT cannot tell source items apart either (skPattern is a regular expression), so
 * this scans keys only (ProjectionExpression saves bandwidth, not read units: the scan costs
 * what the backfill's scan costs) and stops at a bound.
 */
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { DynamoClients } from "../aws/dynamodb.ts";
import { isSourceItem } from "../backfill/page.ts";
import type { Migration } from "../definition/define-migration.ts";
import { OWNER_ATTRIBUTE } from "../definition/derive.ts";

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
            ProjectionExpression: "#pk, #sk, #owner",
            ExpressionAttributeNames: { "#pk": "PK", "#sk": "SK", "#owner": OWNER_ATTRIBUTE },
            ReturnConsumedCapacity: "TOTAL",
          }),
        );
        counts.consumedReadUnits += page.ConsumedCapacity?.CapacityUnits ?? 0;
        for (const item of page.Items ?? []) {
          counts.items++;
          if (isSourceItem(migration, item)) counts.sources++;
        }
        startKey = page.LastEvaluatedKey;
      } while (startKey);
    }),
  );
  return counts;
}
