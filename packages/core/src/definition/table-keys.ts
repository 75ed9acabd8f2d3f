/**
 * Binds a migration to the table it runs on: the table's key schema (DescribeTable, cached
 * per process) becomes the migration's `keys`, after checking that it fits what the file
 * declares and what its `source` selects on. Every command, handler and task does this before
 * reading or writing, so a migration never runs on a table whose keys do not fit it.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { type KeySchema, KeySchemaMismatchError, readKeySchema, sameKeySchema } from "../dynamo/key-schema.ts";
import { type Migration, sourceKeyProblem } from "./define-migration.ts";

// The bound copy of each migration per table, so every caller shares one object per table.
const bound = new WeakMap<Migration, Map<string, Migration>>();

/**
 * `migration` with `keys` = the table's key schema. Throws KeySchemaMismatchError (exit 2)
 * when the declared keys differ or the source selects on a key the table does not have.
 */
export function withTableKeys<M extends Migration>(migration: M, tableKeys: KeySchema, tableName: string): M {
  if (migration.keys && !sameKeySchema(migration.keys, tableKeys)) throw new KeySchemaMismatchError(tableName, tableKeys, migration.keys, migration.id);
  const problem = sourceKeyProblem(migration.source, tableKeys);
  if (problem) throw new KeySchemaMismatchError(tableName, tableKeys, `selects source items with ${problem.path} (${problem.message})`, migration.id);
  if (migration.keys) return migration;
  const perTable = bound.get(migration) ?? new Map<string, Migration>();
  bound.set(migration, perTable);
  const cached = perTable.get(tableName);
  if (cached?.keys && sameKeySchema(cached.keys, tableKeys)) return cached as M;
  // Same prototype-less frozen shape as defineMigration's, symbols (its DEFINED mark) included.
  const copy = Object.freeze({ ...migration, keys: tableKeys }) as M;
  perTable.set(tableName, copy);
  return copy;
}

/** Reads `tableName`'s key schema (cached) and binds `migration` to it (see withTableKeys). */
export async function migrationOnTable<M extends Migration>(client: DynamoDBClient | DynamoDBDocumentClient, migration: M, tableName: string): Promise<M> {
  return withTableKeys(migration, await readKeySchema(client, tableName), tableName);
}
