/**
 * A table's key schema (partition key and optional sort key, each S, N or B), read once per
 * process from DescribeTable and threaded through the engine: every key ferry builds, compares,
 * prints or conditions on comes from here, so nothing else names a key attribute.
 */
import type { DynamoDBClient, TableDescription } from "@aws-sdk/client-dynamodb";
import { DescribeTableCommand } from "@aws-sdk/client-dynamodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { UsageError } from "../errors.ts";
import { TableNotFoundError, isMissingTable } from "./missing-table.ts";

/** DynamoDB's key attribute types: string, number, binary. */
export type KeyType = "S" | "N" | "B";

export interface KeyAttribute {
  name: string;
  type: KeyType;
}

/** The primary key of a table: a partition key, and a sort key unless the key is simple. */
export interface KeySchema {
  partitionKey: KeyAttribute;
  sortKey?: KeyAttribute;
}

/** A key attribute's value as the document client reads it. */
export type KeyValue = string | number | Uint8Array;

/** The key of an item under the table's own attribute names, e.g. `{ pk: "CUST#1", sk: "ORDER#2" }` or `{ id: 42 }`. */
export type ItemKey = Record<string, KeyValue>;

const KeyAttributeSpec = z
  .object({
    name: z.string().min(1, "name the key attribute, e.g. PK"),
    type: z.enum(["S", "N", "B"], { message: 'expected "S", "N" or "B"' }),
  })
  .strict();

/** The zod schema of a migration file's `keys`. */
export const KeySchemaSpec = z
  .object({ partitionKey: KeyAttributeSpec, sortKey: KeyAttributeSpec.optional() })
  .strict()
  .refine((k) => !k.sortKey || k.sortKey.name !== k.partitionKey.name, { message: "the sort key needs a name of its own", path: ["sortKey", "name"] });

/** The key attributes, partition key first. */
export function keyAttributes(keys: KeySchema): KeyAttribute[] {
  return keys.sortKey ? [keys.partitionKey, keys.sortKey] : [keys.partitionKey];
}

/** The key attribute names, partition key first. */
export function keyNames(keys: KeySchema): string[] {
  return keyAttributes(keys).map((a) => a.name);
}

/** The key of any item (or record) under `keys`: only the key attributes, in schema order. */
export function keyOf(keys: KeySchema, item: Record<string, unknown>): ItemKey {
  const key: ItemKey = {};
  for (const { name } of keyAttributes(keys)) key[name] = item[name] as KeyValue;
  return key;
}

function valueText(value: unknown): string {
  if (value instanceof Uint8Array) return `b64:${Buffer.from(value).toString("base64")}`;
  return JSON.stringify(value) ?? String(value);
}

/** A key in words, with the table's names: `pk="CUST#1" sk="ORDER#2"`, `id=42`. */
export function keyText(key: Record<string, unknown>): string {
  return Object.entries(key)
    .map(([name, value]) => `${name}=${valueText(value)}`)
    .join(" ");
}

/** A stable map key for the key of `item` (any item holding the key attributes): equal keys, equal ids. */
export function keyId(keys: KeySchema, item: Record<string, unknown>): string {
  return JSON.stringify(
    keyAttributes(keys).map(({ name }) => {
      const value = item[name];
      return value instanceof Uint8Array ? { B: Buffer.from(value).toString("base64") } : value;
    }),
  );
}

/** True when `a` and `b` have the same key. */
export function sameKey(keys: KeySchema, a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  return keyId(keys, a) === keyId(keys, b);
}

/** Why `value` cannot be `attribute`'s value, or undefined when it can (a string where N is declared, an empty string...). */
export function keyValueProblem(attribute: KeyAttribute, value: unknown): string | undefined {
  const at = `key attribute "${attribute.name}"`;
  if (value === undefined || value === null) return `${at} is missing`;
  if (attribute.type === "S") {
    if (typeof value !== "string") return `${at} must be a string (the table's type S), got ${describeValue(value)}`;
    if (value === "") return `${at} must be a non-empty string`;
  } else if (attribute.type === "N") {
    if (typeof value !== "number" || !Number.isFinite(value)) return `${at} must be a number (the table's type N), got ${describeValue(value)}`;
  } else if (!(value instanceof Uint8Array)) return `${at} must be binary (a Uint8Array; the table's type B), got ${describeValue(value)}`;
  else if (value.length === 0) return `${at} must not be empty`;
  return undefined;
}

function describeValue(value: unknown): string {
  if (typeof value === "string") return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value)}`;
  if (typeof value === "number") return `the number ${value}`;
  return value instanceof Uint8Array ? "binary" : typeof value;
}

/** The key schema in words: `pk (S, partition key) and sk (S, sort key)`. */
export function keySchemaText(keys: KeySchema): string {
  const part = (a: KeyAttribute, role: string) => `${a.name} (${a.type}, ${role})`;
  return keys.sortKey
    ? `${part(keys.partitionKey, "partition key")} and ${part(keys.sortKey, "sort key")}`
    : `${part(keys.partitionKey, "partition key")}, no sort key`;
}

/** True when both schemas have the same names and types. */
export function sameKeySchema(a: KeySchema, b: KeySchema): boolean {
  const same = (x?: KeyAttribute, y?: KeyAttribute) => x?.name === y?.name && x?.type === y?.type;
  return same(a.partitionKey, b.partitionKey) && same(a.sortKey, b.sortKey);
}

/** A table with no readable key schema in its description (should not happen on DynamoDB). */
export class UnreadableKeySchemaError extends UsageError {
  constructor(readonly tableName: string) {
    super(`DescribeTable of ${tableName} returned no key schema; check the table name and the caller's dynamodb:DescribeTable permission.`);
  }
}

/** The key schema of a described table. */
export function keySchemaOf(table: TableDescription, tableName: string): KeySchema {
  const typeOf = (name: string) => table.AttributeDefinitions?.find((a) => a.AttributeName === name)?.AttributeType as KeyType | undefined;
  const hash = table.KeySchema?.find((k) => k.KeyType === "HASH")?.AttributeName;
  const range = table.KeySchema?.find((k) => k.KeyType === "RANGE")?.AttributeName;
  const hashType = hash ? typeOf(hash) : undefined;
  if (!hash || !hashType) throw new UnreadableKeySchemaError(tableName);
  const rangeType = range ? typeOf(range) : undefined;
  if (range && !rangeType) throw new UnreadableKeySchemaError(tableName);
  return { partitionKey: { name: hash, type: hashType }, ...(range && rangeType ? { sortKey: { name: range, type: rangeType } } : {}) };
}

// One DescribeTable per table per process (a Lambda container, a CLI run): key schemas never change.
const cache = new Map<string, Promise<KeySchema>>();

/** The key schema of `tableName`, from DescribeTable, cached per process. Throws TableNotFoundError when the table does not exist. */
export function readKeySchema(client: DynamoDBClient | DynamoDBDocumentClient, tableName: string): Promise<KeySchema> {
  const cached = cache.get(tableName);
  if (cached) return cached;
  const read = (async () => {
    try {
      const out = await (client as DynamoDBClient).send(new DescribeTableCommand({ TableName: tableName }));
      if (!out.Table) throw new TableNotFoundError(tableName);
      return keySchemaOf(out.Table, tableName);
    } catch (err) {
      if (isMissingTable(err)) throw new TableNotFoundError(tableName);
      throw err;
    }
  })();
  cache.set(tableName, read);
  // A failed read (missing table, throttling) is not remembered: the next call asks again.
  read.catch(() => cache.delete(tableName));
  return read;
}

/** Remembers a key schema already known (a table just described or created), sparing the DescribeTable. */
export function rememberKeySchema(tableName: string, keys: KeySchema): void {
  cache.set(tableName, Promise.resolve(keys));
}

/** Forgets cached key schemas (all, or one table's): for a table deleted and created again with other keys. */
export function forgetKeySchemas(tableName?: string): void {
  if (tableName === undefined) cache.clear();
  else cache.delete(tableName);
}

/** A migration's declared keys (or its source selection) do not fit the table it was pointed at; nothing was written. */
export class KeySchemaMismatchError extends UsageError {
  constructor(
    readonly tableName: string,
    /** The table's keys. */
    readonly table: KeySchema,
    /** What the migration expects: its declared keys, or a sentence on what its `source` needs. */
    readonly declared: KeySchema | string,
    readonly migrationId?: string,
  ) {
    const who = migrationId ? `Migration ${migrationId}` : "The migration";
    const expects = typeof declared === "string" ? declared : `declares keys ${keySchemaText(declared)}`;
    super(
      `${who} ${expects}, but table ${tableName} is keyed by ${keySchemaText(table)}. Nothing was written. ` +
        "Pass the right --table (or FERRY_TABLE, --stage), or change the migration's `keys` and `source` to the table's.",
    );
  }
}
