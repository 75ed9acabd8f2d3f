/**
 * The backfill's validation read: after a page's plain writes, one strongly consistent
 * BatchGetItem of the page's source keys (projection: the schema's fields and the keys)
 * tells which items are still as the Scan read them. derive is a function of those fields
 * only, so an item whose fields are the same wrote derive(current); an item whose fields
 * differ or that is gone is handed to repair (transactions.ts). README "Backfill" has the
 * argument.
 */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { ItemKey, Migration } from "../definition/define-migration.ts";
import { sameRecord } from "../definition/derive.ts";
import { type ReadStats, batchGetItems } from "../dynamo/batch-get.ts";
import type { BackoffOptions } from "../util/backoff.ts";
import { retryThrottled } from "./writes.ts";

/** True when `a` and `b` hold the same values (or the same absences) in every field the schema reads. */
export function sameReadFields(migration: Pick<Migration, "readFields">, a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const pick = (item: Record<string, unknown>) => Object.fromEntries(migration.readFields.map((f) => [f, item[f]]));
  return sameRecord(pick(a), pick(b));
}

/** The current items of `keys` by keyId, read consistently with only the schema's fields; an absent key is a deleted item. */
export async function readCurrentSources(
  doc: DynamoDBDocumentClient,
  tableName: string,
  migration: Pick<Migration, "readFields">,
  keys: ItemKey[],
  backoff: BackoffOptions,
  stats: ReadStats,
): Promise<Map<string, Record<string, unknown>>> {
  return retryThrottled(() => batchGetItems(doc, tableName, keys, { backoff, stats, attributes: migration.readFields, consistentRead: true }), backoff);
}
