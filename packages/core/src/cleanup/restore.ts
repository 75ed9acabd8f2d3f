/**
 * `ferry restore <file>`: loads a remove step's backup back, putting back exactly the
 * attributes the cleanup removed, without clobbering newer writes:
 * - each item gets its backed-up values of the removed attributes with an UpdateItem SET,
 *   on the condition that the item exists and none of those attributes is there now (a
 *   write since the cleanup that set them again is newer: it stays, counted `present`);
 *   the item's other attributes are left as they are now (newer writes win; for an item
 *   unchanged since the cleanup this makes it exactly the backed-up item);
 * - an item deleted since is not brought back (counted `missing`) unless `recreateMissing`
 *   (`--recreate-missing`), which puts the whole backed-up item if the key is still free;
 *   that is also how a backup is loaded into another, empty table (`--table`).
 * The dual-write sees the attributes come back and derives the records from them again.
 * A whole item whose deletion the dual-write saw with attributes its backup line lacks is put
 * back as the dual-write kept it (cleanup/deleted-images.ts), read from `controlTable`.
 */
import { type AttributeValue, ConditionalCheckFailedException, PutItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import type { DynamoClients } from "../aws/dynamodb.ts";
import { updateState } from "../control/migration-state.ts";
import type { ControlLocation } from "../control/keys.ts";
import { unlessMissingTable } from "../dynamo/missing-table.ts";
import { type KeySchema, keyNames, readKeySchema } from "../dynamo/key-schema.ts";
import { readBackupFile, readBackupHeader } from "./backup.ts";
import { type DeletedImage, readDeletedImages } from "./deleted-images.ts";

export interface RestoreOptions {
  /** Target table (default: the backup's). */
  tableName?: string;
  /** Put back whole items that were deleted since the backup. */
  recreateMissing: boolean;
  /** UpdateItem calls in flight. */
  concurrency: number;
  /** The source table's control table, where the dual-write kept deleted images (none read when absent). */
  controlTable?: string;
}

export const DEFAULT_RESTORE_OPTIONS: RestoreOptions = { recreateMissing: false, concurrency: 8 };

export interface RestoreResult {
  file: string;
  migrationId: string;
  tableName: string;
  /** Items in the backup (one per key). */
  items: number;
  /** Items whose removed attributes were put back. */
  restored: number;
  /** Items that have the attributes again (newer writes), left alone. */
  present: number;
  /** Items deleted since the backup, left deleted. */
  missing: number;
  /** Items put back whole (recreateMissing). */
  recreated: number;
  /** Backup lines replaced by the dual-write's image of the deleted item (it held attributes added after the backup). */
  completedFromStream: number;
}

type Item = Record<string, AttributeValue>;

async function restoreItem(
  raw: DynamoClients["raw"],
  tableName: string,
  keys: KeySchema,
  item: Item,
  attributes: string[],
  recreateMissing: boolean,
  wholeItems = false,
): Promise<keyof Pick<RestoreResult, "restored" | "present" | "missing" | "recreated">> {
  // A deleted source item (deleteSourceItems) comes back whole, only on a free key: a newer item stays.
  if (wholeItems) return putIfFree(raw, tableName, keys, item);
  const kept = attributes.filter((a) => item[a] !== undefined);
  if (kept.length === 0) return "present";
  const names: Record<string, string> = { "#pk": keys.partitionKey.name, ...Object.fromEntries(kept.map((a, i) => [`#a${i}`, a])) };
  const values = Object.fromEntries(kept.map((a, i) => [`:a${i}`, item[a] as AttributeValue]));
  try {
    await raw.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: Object.fromEntries(keyNames(keys).map((k) => [k, item[k] as AttributeValue])),
        UpdateExpression: `SET ${kept.map((_, i) => `#a${i} = :a${i}`).join(", ")}`,
        ConditionExpression: ["attribute_exists(#pk)", ...kept.map((_, i) => `attribute_not_exists(#a${i})`)].join(" AND "),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
      }),
    );
    return "restored";
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
    if (err.Item) return "present";
  }
  if (!recreateMissing) return "missing";
  return putIfFree(raw, tableName, keys, item);
}

/** Puts the whole backed-up item if its key is free: "recreated", else "present". */
async function putIfFree(raw: DynamoClients["raw"], tableName: string, keys: KeySchema, item: Item): Promise<"recreated" | "present"> {
  try {
    await raw.send(
      new PutItemCommand({
        TableName: tableName,
        Item: item,
        ConditionExpression: "attribute_not_exists(#pk)",
        ExpressionAttributeNames: { "#pk": keys.partitionKey.name },
      }),
    );
    return "recreated";
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
    return "present";
  }
}

/** Loads `file` back into its table (or `options.tableName`). */
export async function restoreBackup(clients: Pick<DynamoClients, "raw" | "doc">, file: string, options: Partial<RestoreOptions> = {}): Promise<RestoreResult> {
  const o = { ...DEFAULT_RESTORE_OPTIONS, ...options };
  const header = readBackupHeader(file);
  const tableName = o.tableName ?? header.tableName;
  // The file names its keys; an older one is read with the table's (DescribeTable).
  const keys = header.keys ?? (await readKeySchema(clients.raw, tableName));
  const backup = readBackupFile(file, keys);
  const images =
    backup.header.wholeItems && o.controlTable
      ? await readDeletedImages({ doc: clients.doc, controlTable: o.controlTable, migrationId: backup.header.migrationId })
      : new Map<string, DeletedImage>();
  let completedFromStream = 0;
  const items = backup.items.map((item, i) => {
    const image = images.get(backup.nonces[i] ?? "");
    if (!image) return item;
    completedFromStream++;
    return image.item;
  });
  const result: RestoreResult = {
    file,
    migrationId: backup.header.migrationId,
    tableName,
    items: backup.items.length,
    restored: 0,
    present: 0,
    missing: 0,
    recreated: 0,
    completedFromStream,
  };
  for (let i = 0; i < items.length; i += o.concurrency) {
    const outcomes = await Promise.all(
      items
        .slice(i, i + o.concurrency)
        .map((item) => restoreItem(clients.raw, tableName, keys, item, backup.header.removeAttributes, o.recreateMissing, backup.header.wholeItems === true)),
    );
    for (const outcome of outcomes) result[outcome]++;
  }
  return result;
}

/**
 * Keeps the restore in the state record of its migration (when the control table has one),
 * so `ferry unretire` knows the old data is back. Returns whether it was recorded.
 */
export async function recordRestore(location: ControlLocation, result: RestoreResult, at: Date = new Date()): Promise<boolean> {
  const restored = {
    at: at.toISOString(),
    file: result.file,
    restored: result.restored,
    present: result.present,
    missing: result.missing,
    recreated: result.recreated,
  };
  // No control table here (a backup loaded into another table): nothing to record.
  const updated = await unlessMissingTable(
    updateState(location, (state) => (state ? { ...state, restored } : undefined)),
    undefined,
  );
  return updated !== undefined;
}
