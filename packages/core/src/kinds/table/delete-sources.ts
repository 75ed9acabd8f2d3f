/**
 * The remove step's cleanup of a `table` migration with `cleanup.deleteSourceItems`: deletes
 * every migrated source item from the source table, each backed up first, throttled and
 * resumable as a sweep (cleanup/sweep.ts). The dual-write keeps running after remove, and a
 * REMOVE in the stream would make it delete the target records the item derived; so the
 * sweep tells its deletes apart:
 * 1. mark: an UpdateItem sets `ferryCleanup = { migration, nonce, names }` (ReturnValues ALL_NEW:
 *    the whole item, atomically), `names` being the attributes the sweep last saw. Not a schema
 *    field, so the dual-write sees the MODIFY as unchanged. If the item as marked has other names
 *    (the application changed it since the read), it is marked again with those.
 * 2. back up the whole item as marked (without the mark), with the nonce, on disk before anything
 *    is deleted.
 * 3. delete on the condition that the mark holds this nonce and every attribute still holds the
 *    backed-up value (ReturnValues ALL_OLD). The REMOVE's old image carries the mark:
 *    dualwrite/plan.ts isCleanupDelete skips it and the target records stay, now the application's.
 *    An attribute added between the mark and the delete is not in the condition: the deleted item
 *    is appended to the backup, and since a crash could come before that append, the dual-write
 *    also keeps the old image of a cleanup REMOVE with names the mark lacks (cleanup/deleted-images.ts),
 *    which `ferry restore` prefers.
 * A write of the application in between (a Put drops the mark, an update changes a value)
 * fails the delete: the item is re-marked, backed up again and retried. An application delete
 * in between also carries the mark, so the dual-write skipped it: the sweep does its work,
 * with backfill/transactions.ts's repair (a ConditionCheck that the source is still gone and
 * owner-conditional deletes of what the marked version derived; a source put back meanwhile
 * is repaired to derive(current) and then cleaned like any other).
 */
import { randomUUID } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { type AttributeValue, ConditionalCheckFailedException, DeleteItemCommand, ScanCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { repairSources } from "../../backfill/transactions.ts";
import { appendBackupItems } from "../../cleanup/backup.ts";
import type { SweepTask } from "../../cleanup/sweep.ts";
import { type Migration, keysOf, recordKeysOf } from "../../definition/define-migration.ts";
import { SourceMatchError, deriveRecords, keyOf } from "../../definition/derive.ts";
import { isSourceItem, sourceKeyFilter } from "../../definition/source.ts";
import { CLEANUP_MARK_ATTRIBUTE } from "../../dualwrite/plan.ts";
import { keyNames } from "../../dynamo/key-schema.ts";
import { FerryError } from "../../errors.ts";
import type { BackoffOptions } from "../../util/backoff.ts";
import type { KindSweepContext } from "../kind.ts";

export const DELETE_SOURCES_SWEEP = "cleanup";
/** Attempts per item while the application keeps changing it. */
export const MAX_DELETE_ATTEMPTS = 10;
/** Items cleaned at once per page. */
const CONCURRENCY = 8;

type Item = Record<string, AttributeValue>;

/** The source item kept changing under the sweep: it stays (backed up), and a later remove run retries. */
export class SourceItemKeepsChangingError extends FerryError {
  constructor(
    readonly migrationId: string,
    readonly key: Record<string, unknown>,
  ) {
    super(
      `The source item ${JSON.stringify(key)} of ${migrationId} changed ${MAX_DELETE_ATTEMPTS} times while the cleanup deleted it; run \`ferry remove ${migrationId} --confirm\` again.`,
    );
  }
}

interface Ctx extends KindSweepContext {
  backupFile?: string;
}

const withoutMark = (item: Item): Item => {
  const { [CLEANUP_MARK_ATTRIBUTE]: _mark, ...rest } = item;
  return rest;
};

const namesOf = (item: Item): string[] => Object.keys(withoutMark(item)).sort();

/** Step 1: the mark naming `names`; the whole item as marked, or undefined when it is gone. */
async function mark(ctx: Ctx, key: Item, nonce: string, names: string[]): Promise<Item | undefined> {
  const pk = keysOf(ctx.migration).partitionKey.name;
  const value: AttributeValue = { M: { migration: { S: ctx.migration.id }, nonce: { S: nonce }, names: { L: names.map((n) => ({ S: n })) } } };
  try {
    const out = await ctx.clients.raw.send(
      new UpdateItemCommand({
        TableName: ctx.tableName,
        Key: key,
        UpdateExpression: "SET #m = :m",
        ConditionExpression: "attribute_exists(#pk)",
        ExpressionAttributeNames: { "#m": CLEANUP_MARK_ATTRIBUTE, "#pk": pk },
        ExpressionAttributeValues: { ":m": value },
        ReturnValues: "ALL_NEW",
      }),
    );
    return out.Attributes;
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return undefined;
    throw err;
  }
}

/** Step 3: the delete on the mark and every backed-up value; the deleted item, or undefined when it changed. */
async function deleteMarked(ctx: Ctx, marked: Item, nonce: string): Promise<Item | undefined> {
  const names: Record<string, string> = { "#m": CLEANUP_MARK_ATTRIBUTE, "#n": "nonce" };
  const values: Record<string, AttributeValue> = { ":n": { S: nonce } };
  const clauses = ["#m.#n = :n"];
  Object.entries(withoutMark(marked)).forEach(([name, value], i) => {
    names[`#a${i}`] = name;
    values[`:a${i}`] = value;
    clauses.push(`#a${i} = :a${i}`);
  });
  const key = Object.fromEntries(keyNames(keysOf(ctx.migration)).map((k) => [k, marked[k] as AttributeValue]));
  try {
    const out = await ctx.clients.raw.send(
      new DeleteItemCommand({
        TableName: ctx.tableName,
        Key: key,
        ConditionExpression: clauses.join(" AND "),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: "ALL_OLD",
      }),
    );
    return out.Attributes ?? marked;
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return undefined;
    throw err;
  }
}

/** What the dual-write skipped when the application deleted a marked item: the records it derived go, unless it is back. */
async function settleApplicationDelete(ctx: Ctx, marked: Item): Promise<void> {
  const item = unmarshall(withoutMark(marked));
  let stale: Record<string, unknown>[] = [];
  try {
    stale = deriveRecords(ctx.migration, item).map((r) => keyOf(recordKeysOf(ctx.migration), r));
  } catch (err) {
    // A version that fails the schema or derive owned nothing.
    if (!(err instanceof FerryError)) throw err;
  }
  if (stale.length === 0) return;
  await repairSources(ctx.clients.doc, ctx.tableName, ctx.migration, [{ key: keyOf(keysOf(ctx.migration), item), current: undefined, stale: stale as never }], {
    ...(ctx.backoff ? { backoff: ctx.backoff as BackoffOptions } : {}),
  });
}

/** Deletes one source item (see the file comment): true when this call deleted it, false when it was gone. */
export async function deleteSourceItem(ctx: Ctx, read: Item): Promise<boolean> {
  const key = Object.fromEntries(keyNames(keysOf(ctx.migration)).map((k) => [k, read[k] as AttributeValue]));
  let names = namesOf(read);
  for (let attempt = 1; attempt <= MAX_DELETE_ATTEMPTS; attempt++) {
    const nonce = randomUUID();
    const marked = await mark(ctx, key, nonce, names);
    if (!marked) return false;
    if (!isDeepStrictEqual(namesOf(marked), names)) {
      // Changed since the read: the mark must name what the backup holds, so mark it again.
      names = namesOf(marked);
      continue;
    }
    if (ctx.backupFile) appendBackupItems(ctx.backupFile, [withoutMark(marked)], nonce);
    const deleted = await deleteMarked(ctx, marked, nonce);
    if (deleted) {
      // An attribute added between the mark and the delete is not in the condition: keep the exact deleted item.
      if (ctx.backupFile && !isDeepStrictEqual(withoutMark(deleted), withoutMark(marked))) appendBackupItems(ctx.backupFile, [withoutMark(deleted)], nonce);
      return true;
    }
    // Changed by the application since the mark; if it deleted the item, do what the dual-write skipped.
    await settleApplicationDelete(ctx, marked).catch(() => undefined);
    names = namesOf(marked);
  }
  throw new SourceItemKeepsChangingError(ctx.migration.id, unmarshall(key));
}

/** The sweep task: every source item of the migration, deleted after its backup. */
export function deleteSourcesTask(ctx: Ctx): SweepTask<Item> {
  const migration: Migration = ctx.migration;
  const prefixes = sourceKeyFilter(migration);
  const values: Record<string, AttributeValue> = Object.fromEntries(Object.entries(prefixes?.ExpressionAttributeValues ?? {}).map(([k, v]) => [k, { S: v }]));
  return {
    kind: DELETE_SOURCES_SWEEP,
    doc: ctx.clients.doc,
    controlTable: ctx.controlTable,
    migrationId: migration.id,
    async scanPage(segment, totalSegments, startKey, limit) {
      const out = await ctx.clients.raw.send(
        new ScanCommand({
          TableName: ctx.tableName,
          Segment: segment,
          TotalSegments: totalSegments,
          Limit: limit,
          ConsistentRead: true,
          ...(startKey ? { ExclusiveStartKey: startKey as Item } : {}),
          ...(prefixes
            ? {
                FilterExpression: prefixes.FilterExpression,
                ExpressionAttributeNames: prefixes.ExpressionAttributeNames,
                ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
              }
            : {}),
        }),
      );
      const items = (out.Items ?? []).filter((item) => {
        try {
          return isSourceItem(migration, unmarshall(item));
        } catch (err) {
          if (err instanceof SourceMatchError) return false;
          throw err;
        }
      });
      return { items, scanned: out.ScannedCount ?? 0, ...(out.LastEvaluatedKey ? { lastKey: out.LastEvaluatedKey } : {}) };
    },
    async processPage(items) {
      let processed = 0;
      let skipped = 0;
      for (let i = 0; i < items.length; i += CONCURRENCY) {
        const results = await Promise.all(items.slice(i, i + CONCURRENCY).map((item) => deleteSourceItem(ctx, item)));
        for (const deleted of results) deleted ? processed++ : skipped++;
      }
      return { processed, skipped };
    },
  };
}
