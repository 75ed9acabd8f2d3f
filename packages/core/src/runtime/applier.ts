/**
 * Applies one record plan to the data table: puts every record the item now owns and
 * deletes the ones it no longer owns, with BatchWriteItem (25 per call, unprocessed items
 * retried). Puts overwrite whole records, so applying the same plan again changes nothing.
 */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { ItemKey } from "../definition/define-migration.ts";
import { BATCH_WRITE_MAX, type BatchWriteStats, type WriteRequest, writeBatch } from "../dynamo/batch-write.ts";
import { type BackoffOptions, DEFAULT_BACKOFF } from "../util/backoff.ts";
import type { RecordPlan } from "./dual-write-plan.ts";

/** What applying one plan wrote. */
export interface ApplyResult {
  written: number;
  deleted: number;
}

/**
 * Writes `plan`'s puts and deletes to `tableName`. Put and delete keys never overlap (deletes
 * are the old records minus the new ones), so one BatchWriteItem may carry both. Calls run one
 * after another: a failure part-way leaves a state the retry of the same record completes.
 */
export async function applyPlan(
  doc: DynamoDBDocumentClient,
  tableName: string,
  plan: Extract<RecordPlan, { kind: "apply" }>,
  backoff: BackoffOptions = DEFAULT_BACKOFF,
  stats?: BatchWriteStats,
): Promise<ApplyResult> {
  const requests: WriteRequest[] = [
    ...plan.puts.map((item): WriteRequest => ({ PutRequest: { Item: item } })),
    ...plan.deletes.map((key: ItemKey): WriteRequest => ({ DeleteRequest: { Key: { PK: key.PK, SK: key.SK } } })),
  ];
  for (let i = 0; i < requests.length; i += BATCH_WRITE_MAX) {
    await writeBatch(doc, tableName, requests.slice(i, i + BATCH_WRITE_MAX), backoff, stats);
  }
  return { written: plan.puts.length, deleted: plan.deletes.length };
}
