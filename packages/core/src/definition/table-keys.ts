/**
 * Binds a migration to the table it runs on: the table's key schema (DescribeTable, cached
 * per process) becomes the migration's `keys`, after checking that it fits what the file
 * declares and what its `source` selects on. Every command, handler and task does this before
 * reading or writing, so a migration never runs on a table whose keys do not fit it.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { type KeySchema, KeySchemaMismatchError, readKeySchema, sameKeySchema } from "../dynamo/key-schema.ts";
import { TableNotFoundError } from "../dynamo/missing-table.ts";
import { GuardRefusedError, UsageError } from "../errors.ts";
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

// The bound copy of each (source-bound) migration per target table.
const boundTargets = new WeakMap<Migration, Map<string, Migration>>();

/**
 * The physical target table of a `table` migration: its entry in FERRY_TARGET_TABLES (JSON,
 * migration id -> table: what the stacks give the handlers), else FERRY_TARGET_TABLE (a stage's,
 * a test's), else the file's `target.table`.
 */
export function targetTableName(migration: Pick<Migration, "id" | "target">, env: NodeJS.ProcessEnv = process.env): string | undefined {
  let mapped: unknown;
  try {
    mapped = env.FERRY_TARGET_TABLES ? (JSON.parse(env.FERRY_TARGET_TABLES) as Record<string, unknown>)[migration.id] : undefined;
  } catch {
    throw new UsageError(`FERRY_TARGET_TABLES is not JSON ({"<migration id>": "<table>"}): ${env.FERRY_TARGET_TABLES}`);
  }
  return (typeof mapped === "string" && mapped) || env.FERRY_TARGET_TABLE || migration.target?.table;
}

/** A `table` migration whose target is its own source table: that is the records kind. */
export class TargetIsSourceError extends UsageError {
  constructor(
    readonly migrationId: string,
    readonly tableName: string,
  ) {
    super(
      `${migrationId} copies into ${tableName}, the table it reads its source items from: a copy needs another table. ` +
        'Name another target table, or drop `kind: "table"` and `target` to write the records beside their sources (the records kind).',
    );
  }
}

/** A `table` migration whose target table does not exist: ferry never creates tables. */
export class TargetTableMissingError extends GuardRefusedError {
  readonly guard = "target-table";
  constructor(
    readonly migrationId: string,
    readonly targetTable: string,
    readonly keys: KeySchema | undefined,
  ) {
    const declared = keys
      ? ` keyed ${keys.partitionKey.name} (${keys.partitionKey.type})${keys.sortKey ? ` + ${keys.sortKey.name} (${keys.sortKey.type})` : ""} as the file declares`
      : " with the key schema derive writes";
    super(
      `${migrationId} copies into ${targetTable}, which does not exist. ferry never creates or deletes tables: declare it in the stacks ` +
        `(stacks/target-table.ts, or FERRY_TARGET_TABLE_NAME for an existing one) or create it by hand${declared}, then run the command again.`,
    );
  }
}

/**
 * `migration` (bound to its source) with `target` = { table, keys: the target's key schema }.
 * Throws KeySchemaMismatchError naming the target when the declared target keys differ.
 */
export function withTargetKeys<M extends Migration>(migration: M, targetTable: string, targetKeys: KeySchema, sourceTable: string): M {
  if (targetTable === sourceTable) throw new TargetIsSourceError(migration.id, targetTable);
  const declared = migration.target?.keys;
  if (declared && !sameKeySchema(declared, targetKeys)) throw new KeySchemaMismatchError(targetTable, targetKeys, declared, migration.id);
  if (migration.target?.table === targetTable && declared) return migration;
  const perTarget = boundTargets.get(migration) ?? new Map<string, Migration>();
  boundTargets.set(migration, perTarget);
  const cached = perTarget.get(targetTable);
  if (cached?.target?.keys && sameKeySchema(cached.target.keys, targetKeys)) return cached as M;
  const copy = Object.freeze({ ...migration, target: { table: targetTable, keys: targetKeys } }) as M;
  perTarget.set(targetTable, copy);
  return copy;
}

/**
 * Reads `tableName`'s key schema (cached) and binds `migration` to it (see withTableKeys); a
 * `table` migration's target key schema is read and bound too (withTargetKeys).
 */
export async function migrationOnTable<M extends Migration>(
  client: DynamoDBClient | DynamoDBDocumentClient,
  migration: M,
  tableName: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<M> {
  const onSource = withTableKeys(migration, await readKeySchema(client, tableName), tableName);
  if (onSource.kind !== "table") return onSource;
  const target = targetTableName(onSource, env) as string;
  if (target === tableName) throw new TargetIsSourceError(onSource.id, target);
  const targetKeys = await readKeySchema(client, target).catch((err: unknown) => {
    if (err instanceof TableNotFoundError) throw new TargetTableMissingError(onSource.id, target, onSource.target?.keys);
    throw err;
  });
  return withTargetKeys(onSource, target, targetKeys, tableName);
}
