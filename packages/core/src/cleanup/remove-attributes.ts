/**
 * The remove step's cleanup: drops the migration's `cleanup.removeAttributes` (e.g. the
 * embedded `tasks` of 0002) from every source item, throttled and resumable as a sweep.
 *
 * Race safety under live writes: each item is changed with an UpdateItem that only
 * REMOVEs the attributes, on the condition that they still hold the values just read (and
 * written to the backup). An application write in between fails the condition; the item
 * is re-read, backed up again and retried, so the backup always holds exactly the values
 * removed and no write is ever removed unseen. (A bare `REMOVE` with `attribute_exists(PK)`
 * would drop values written after the backup read, which no restore could bring back.)
 * The change drops the attributes and nothing else, which the dual-write recognises as the
 * cleanup (dualwrite/plan.ts isCleanupOnly) and skips, so the derived records stay.
 */
import { type AttributeValue, ConditionalCheckFailedException, ScanCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import type { DynamoClients } from "../aws/dynamodb.ts";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { type Migration, keysOf } from "../definition/define-migration.ts";
import { SourceMatchError } from "../definition/derive.ts";
import { isSourceItem, sourceKeyFilter } from "../definition/source.ts";
import { keyNames } from "../dynamo/key-schema.ts";
import { appendBackupItems } from "./backup.ts";
import { type SweepResult, type SweepRunOptions, type SweepSettings, type SweepTask, runSweep } from "./sweep.ts";

export const CLEANUP_SWEEP = "cleanup";

/** Attempts per item when concurrent writes keep changing it. */
export const MAX_CLEANUP_ATTEMPTS = 10;
/** UpdateItem calls in flight per page. */
export const CLEANUP_CONCURRENCY = 8;

export interface CleanupContext {
  clients: Pick<DynamoClients, "raw" | "doc">;
  tableName: string;
  controlTable: string;
  migration: Migration;
  /** JSON-lines backup file to append each item to before it is changed (local backups). */
  backupFile?: string;
}

type Item = Record<string, AttributeValue>;

function attributesOf(migration: Migration): string[] {
  return migration.cleanup?.removeAttributes ?? [];
}

/** REMOVE the attributes if they still hold `item`'s values; returns the current item when they do not. */
async function removeIfUnchanged(ctx: CleanupContext, item: Item, attributes: string[]): Promise<{ done: true } | { done: false; current?: Item }> {
  const names: Record<string, string> = {};
  const values: Record<string, AttributeValue> = {};
  const keys = keyNames(keysOf(ctx.migration));
  names["#pk"] = keys[0] as string;
  const conditions = ["attribute_exists(#pk)"];
  attributes.forEach((name, i) => {
    names[`#a${i}`] = name;
    const value = item[name];
    if (value === undefined) conditions.push(`attribute_not_exists(#a${i})`);
    else {
      values[`:a${i}`] = value;
      conditions.push(`#a${i} = :a${i}`);
    }
  });
  try {
    await ctx.clients.raw.send(
      new UpdateItemCommand({
        TableName: ctx.tableName,
        Key: Object.fromEntries(keys.map((k) => [k, item[k] as AttributeValue])),
        UpdateExpression: `REMOVE ${attributes.map((_, i) => `#a${i}`).join(", ")}`,
        ConditionExpression: conditions.join(" AND "),
        ExpressionAttributeNames: names,
        ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
      }),
    );
    return { done: true };
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
    return { done: false, ...(err.Item ? { current: err.Item } : {}) };
  }
}

/** Cleans one item: true when its attributes were removed by this call, false when it needs nothing (gone, already clean). */
async function cleanItem(ctx: CleanupContext, read: Item, attributes: string[]): Promise<boolean> {
  let item = read;
  for (let attempt = 1; attempt <= MAX_CLEANUP_ATTEMPTS; attempt++) {
    const outcome = await removeIfUnchanged(ctx, item, attributes);
    if (outcome.done) return true;
    const current = outcome.current;
    if (!current || !attributes.some((a) => current[a] !== undefined)) return false;
    // Changed since read: back up what is there now, then try again on it.
    if (ctx.backupFile) appendBackupItems(ctx.backupFile, [current]);
    item = current;
  }
  return false;
}

/** The sweep task of the cleanup (exported for tests that stop it midway). */
export function cleanupTask(ctx: CleanupContext): SweepTask<Item> {
  const attributes = attributesOf(ctx.migration);
  const prefixes = sourceKeyFilter(ctx.migration);
  const names: Record<string, string> = { ...prefixes?.ExpressionAttributeNames, ...Object.fromEntries(attributes.map((a, i) => [`#a${i}`, a])) };
  const values: Record<string, AttributeValue> = Object.fromEntries(Object.entries(prefixes?.ExpressionAttributeValues ?? {}).map(([k, v]) => [k, { S: v }]));
  const hasAttribute = `(${attributes.map((_, i) => `attribute_exists(#a${i})`).join(" OR ")})`;
  return {
    kind: CLEANUP_SWEEP,
    doc: ctx.clients.doc,
    controlTable: ctx.controlTable,
    migrationId: ctx.migration.id,
    async scanPage(segment, totalSegments, startKey, limit) {
      const out = await ctx.clients.raw.send(
        new ScanCommand({
          TableName: ctx.tableName,
          Segment: segment,
          TotalSegments: totalSegments,
          Limit: limit,
          ConsistentRead: true,
          ...(startKey ? { ExclusiveStartKey: startKey as Item } : {}),
          FilterExpression: prefixes ? `${prefixes.FilterExpression} AND ${hasAttribute}` : hasAttribute,
          ExpressionAttributeNames: names,
          ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
        }),
      );
      // The rest of the source rule (skPattern, match, no owner stamp) on the plain item; an item match throws on is left as is.
      const items = (out.Items ?? []).filter((item) => {
        try {
          return isSourceItem(ctx.migration, unmarshall(item));
        } catch (err) {
          if (err instanceof SourceMatchError) return false;
          throw err;
        }
      });
      return { items, scanned: out.ScannedCount ?? 0, ...(out.LastEvaluatedKey ? { lastKey: out.LastEvaluatedKey } : {}) };
    },
    async processPage(items) {
      // On disk before any of them changes.
      if (ctx.backupFile) appendBackupItems(ctx.backupFile, items);
      let processed = 0;
      let skipped = 0;
      for (let i = 0; i < items.length; i += CLEANUP_CONCURRENCY) {
        const results = await Promise.all(items.slice(i, i + CLEANUP_CONCURRENCY).map((item) => cleanItem(ctx, item, attributes)));
        for (const removed of results) removed ? processed++ : skipped++;
      }
      return { processed, skipped };
    },
  };
}

/** Runs (or resumes) the cleanup; a migration without `cleanup` has nothing to do. */
export async function removeOldAttributes(
  ctx: CleanupContext,
  settings: Partial<SweepSettings> = {},
  options: SweepRunOptions = {},
): Promise<SweepResult | undefined> {
  if (attributesOf(ctx.migration).length === 0) return undefined;
  return runSweep(cleanupTask(ctx), settings, options);
}
