/**
 * Backups taken by the remove step before its destructive cleanup.
 * - Locally: a JSON-lines file. Line 1 is a header naming the migration, table, time and
 *   the attributes the cleanup removes; every other line is one affected item as read just
 *   before its attributes were removed (`{"Item": <DynamoDB JSON>}`, plus the cleanup mark's
 *   `nonce` for an item deleted whole). Lines are appended
 *   page by page before that page's items are changed, so the file always covers every
 *   change made; a later line for the same key (re-read after a concurrent write) wins.
 * - On AWS: an on-demand backup of the whole table (CreateBackup); its ARN is recorded in
 *   the migration's state.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { type AttributeValue, CreateBackupCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { type KeySchema, keyAttributes, keyId } from "../dynamo/key-schema.ts";
import { FerryError, UsageError } from "../errors.ts";
import { decodeItem, encodeItem } from "./attribute-json.ts";

/** Default folder of local backups (`--backup-dir`). */
export const DEFAULT_BACKUP_DIR = "./.ferry/backups";

export const BACKUP_FORMAT = "ferry-backup/1";

export interface BackupHeader {
  format: typeof BACKUP_FORMAT;
  migrationId: string;
  tableName: string;
  /** ISO time the backup was started. */
  createdAt: string;
  removeAttributes: string[];
  /** The table's key schema (which attributes of each line are its key); older backups lack it. */
  keys?: KeySchema;
  /** Each line is a whole item the cleanup deleted (a `table` migration's deleteSourceItems): restore puts it back whole. */
  wholeItems?: boolean;
}

/** A backup file that is not one ferry wrote (or is cut off). */
export class InvalidBackupError extends UsageError {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file} is not a ferry backup: ${detail}. Pass a file written by \`ferry remove --confirm\` (in --backup-dir, default ${DEFAULT_BACKUP_DIR}).`);
  }
}

/** The backup file name of a remove run: `<migration>.<table>.<time>.jsonl`. */
export function backupFileName(dir: string, migrationId: string, tableName: string, at: Date): string {
  return join(dir, `${migrationId}.${tableName}.${at.toISOString().replace(/[:.]/g, "-")}.jsonl`);
}

/** Creates the file with its header (or keeps an existing one: a resumed cleanup appends). */
export function openBackupFile(file: string, header: Omit<BackupHeader, "format">): void {
  if (existsSync(file)) return;
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, `${JSON.stringify({ format: BACKUP_FORMAT, ...header })}\n`);
}

/**
 * Appends items (synchronously: the lines are on disk before the caller changes the items).
 * `nonce` is the cleanup mark the items were deleted on (cleanup/deleted-images.ts).
 */
export function appendBackupItems(file: string, items: Record<string, AttributeValue>[], nonce?: string): void {
  if (items.length === 0) return;
  appendFileSync(file, items.map((item) => `${JSON.stringify({ Item: encodeItem(item), ...(nonce ? { nonce } : {}) })}\n`).join(""));
}

export interface BackupContents {
  header: BackupHeader;
  /** One item per key: the last line written for it. */
  items: Record<string, AttributeValue>[];
  /** The cleanup mark's nonce of each item's last line, when it has one (same order as `items`). */
  nonces: (string | undefined)[];
  lines: number;
}

/** The header (first line) of a backup file. */
export function readBackupHeader(file: string): BackupHeader {
  if (!existsSync(file)) throw new InvalidBackupError(file, "no such file");
  const first = readFileSync(file, "utf8").split("\n", 1)[0] ?? "";
  let header: Record<string, unknown> | undefined;
  try {
    header = JSON.parse(first);
  } catch {
    header = undefined;
  }
  if (!header || header.format !== BACKUP_FORMAT) throw new InvalidBackupError(file, `the first line is not a ${BACKUP_FORMAT} header`);
  return header as unknown as BackupHeader;
}

/** Reads a backup file; a cut-off last line (a crash mid-append) is ignored. `keys` stands in for a header without them. */
export function readBackupFile(file: string, fallbackKeys?: KeySchema): BackupContents {
  if (!existsSync(file)) throw new InvalidBackupError(file, "no such file");
  const lines = readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "");
  const parse = (line: string, index: number): Record<string, unknown> | undefined => {
    try {
      return JSON.parse(line);
    } catch {
      if (index === lines.length - 1) return undefined;
      throw new InvalidBackupError(file, `line ${index + 1} is not JSON`);
    }
  };
  const header = lines.length ? parse(lines[0] as string, 0) : undefined;
  if (!header || header.format !== BACKUP_FORMAT) throw new InvalidBackupError(file, `the first line is not a ${BACKUP_FORMAT} header`);
  const keys = (header.keys as KeySchema | undefined) ?? fallbackKeys;
  if (!keys) throw new InvalidBackupError(file, "its header names no key schema; restore it with --table naming the table it came from");
  const byKey = new Map<string, { item: Record<string, AttributeValue>; nonce: string | undefined }>();
  lines.slice(1).forEach((line, i) => {
    const entry = parse(line, i + 1);
    if (!entry) return;
    const item = decodeItem((entry.Item ?? {}) as Record<string, Record<string, unknown>>);
    const missing = keyAttributes(keys).find((a) => !item[a.name]);
    if (missing) throw new InvalidBackupError(file, `line ${i + 2} has no key attribute ${missing.name}`);
    // Marshalled values ({ S: "..." }) are compared as they are: equal keys, equal JSON.
    byKey.set(keyId(keys, item as Record<string, unknown>), { item, nonce: typeof entry.nonce === "string" ? entry.nonce : undefined });
  });
  const entries = [...byKey.values()];
  return { header: header as unknown as BackupHeader, items: entries.map((e) => e.item), nonces: entries.map((e) => e.nonce), lines: lines.length - 1 };
}

/** CreateBackup refused or failed: nothing destructive has run. */
export class BackupFailedError extends FerryError {
  constructor(
    readonly tableName: string,
    cause: unknown,
  ) {
    super(
      `Could not create an on-demand backup of ${tableName} (${cause instanceof Error ? cause.message : String(cause)}); the cleanup did not start. ` +
        "Check the caller may dynamodb:CreateBackup on the table, then run remove again.",
      { cause },
    );
  }
}

/** On AWS: an on-demand backup of the table; returns its ARN and name. */
export async function createTableBackup(raw: DynamoDBClient, tableName: string, migrationId: string, at: Date): Promise<{ arn: string; name: string }> {
  // Names allow [a-zA-Z0-9_.-], 3-255 characters.
  const name = `ferry-${migrationId}-${at.toISOString().replace(/[:.]/g, "-")}`.replace(/[^a-zA-Z0-9_.-]/g, "-").slice(0, 255);
  try {
    const out = await raw.send(new CreateBackupCommand({ TableName: tableName, BackupName: name }));
    const arn = out.BackupDetails?.BackupArn;
    if (!arn) throw new Error("CreateBackup returned no BackupArn");
    return { arn, name };
  } catch (err) {
    throw new BackupFailedError(tableName, err);
  }
}
