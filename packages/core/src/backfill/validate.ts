/**
 * The backfill's validation read: after a page's plain writes, one strongly consistent
 * BatchGetItem of the page's source keys (projection: the schema's fields and the keys)
 * tells which items are still as the Scan read them. derive is a function of those fields
 * only, so an item whose fields are the same wrote derive(current); an item whose fields
 * differ or that is gone is handed to repair (transactions.ts). README "Backfill" has the
 * argument.
 */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { type ItemKey, type Migration, keysOf } from "../definition/define-migration.ts";
import { sameRecord } from "../definition/derive.ts";
import { matchReadFields } from "../definition/source.ts";
import { type ReadStats, batchGetItems } from "../dynamo/batch-get.ts";
import type { BackoffOptions } from "../util/backoff.ts";
import { type ThrottleTally, retryThrottled } from "../dynamo/throttled.ts";

/** The fields the page compares for `items`: the schema's, and those `source.match` reads (the same set as the repair's condition). */
export function validationFields(migration: Migration, items: Record<string, unknown>[]): string[] {
  return [...new Set([...migration.readFields, ...items.flatMap((item) => matchReadFields(migration, item))])];
}

/**
 * True when `current` holds the same values (or the same absences) as `scanned` in every
 * field the schema reads and every field `source.match` reads on `scanned`.
 */
export function sameReadFields(migration: Migration, scanned: Record<string, unknown>, current: Record<string, unknown>): boolean {
  const fields = validationFields(migration, [scanned]);
  const pick = (item: Record<string, unknown>) => Object.fromEntries(fields.map((f) => [f, item[f]]));
  return sameRecord(pick(scanned), pick(current));
}

/** The current items of `keys` by keyId, read consistently with only the schema's fields; an absent key is a deleted item. */
export async function readCurrentSources(
  doc: DynamoDBDocumentClient,
  tableName: string,
  migration: Migration,
  keys: ItemKey[],
  backoff: BackoffOptions,
  stats: ReadStats,
  fields: string[] = migration.readFields,
  tally?: ThrottleTally,
): Promise<Map<string, Record<string, unknown>>> {
  return retryThrottled(
    () => batchGetItems(doc, tableName, keysOf(migration), keys, { backoff, stats, attributes: fields, consistentRead: true }),
    backoff,
    tally,
  );
}
