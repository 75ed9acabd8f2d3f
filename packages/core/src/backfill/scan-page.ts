/**
 * The Scan page every kind's backfill page starts from: one page of one segment, eventually
 * consistent (half the read units; a stale read is caught like any change, by the kind's
 * validation or condition), filtered to the migration's source key prefixes by DynamoDB (so a
 * page may come back empty with a LastEvaluatedKey: not the end of the segment), and read again
 * with backoff when throttled past the SDK's retries (counted in `tally`).
 */
import { type DynamoDBDocumentClient, ScanCommand, type ScanCommandOutput } from "@aws-sdk/lib-dynamodb";
import type { Migration } from "../definition/define-migration.ts";
import { sourceKeyFilter } from "../definition/source.ts";
import { type ThrottleTally, retryThrottled } from "../dynamo/throttled.ts";
import type { BackoffOptions } from "../util/backoff.ts";

/** Where the page is: its segment and the previous page's last key. */
export interface ScanPosition {
  segment: number;
  totalSegments: number;
  pageSize: number;
  startKey?: Record<string, unknown>;
}

export function scanSourcePage(
  doc: DynamoDBDocumentClient,
  tableName: string,
  migration: Migration,
  position: ScanPosition,
  backoff: BackoffOptions,
  tally?: ThrottleTally,
): Promise<ScanCommandOutput> {
  return retryThrottled(
    () =>
      doc.send(
        new ScanCommand({
          TableName: tableName,
          Segment: position.segment,
          TotalSegments: position.totalSegments,
          Limit: position.pageSize,
          ExclusiveStartKey: position.startKey,
          ConsistentRead: false,
          ReturnConsumedCapacity: "TOTAL",
          ...sourceKeyFilter(migration),
        }),
      ),
    backoff,
    tally,
  );
}
