/**
 * `defineMigration`: how a team declares a migration. One declaration (source items, the
 * zod schema of the fields the conversion reads, and a pure `derive`) drives the
 * dual-write, the backfill, verification and the v2 endpoints.
 */
import { z } from "zod";
import { type ItemKey, type KeyAttribute, type KeySchema, KeySchemaSpec, type KeyType, keyOf } from "../dynamo/key-schema.ts";
import { UsageError } from "../errors.ts";
import { DEFAULT_MIGRATION_OPTIONS, type MigrationOptions, MigrationOptionsSchema } from "./options.ts";

export type { ItemKey, KeySchema } from "../dynamo/key-schema.ts";

/** Attribute ferry adds to every derived record: `{ migration, owner: <owner's key in the table's names> }`. */
export const OWNER_ATTRIBUTE = "ferry";

/** One record `derive` produces: its key (the table's key attributes, in their types) plus any attributes. */
export type DerivedRecord = Record<string, unknown>;

/**
 * What an `attributes` migration's derive returns: a value for each attribute it sets on the
 * source item itself, by name (one of the file's `attributes`); a name left out (or
 * undefined) means the item carries no such attribute.
 */
export type DerivedAttributes = Record<string, unknown>;

/** The kinds of migration (kinds/kind.ts): new records, new attributes in place, a copy into another table. */
export type MigrationKindName = "records" | "attributes" | "table";

/** Where a `table` migration copies to. */
export interface MigrationTarget {
  /** The target table: its own key schema, read from DescribeTable (the CLI never creates it). */
  table: string;
  /** The key schema the target is expected to have (checked like `keys`); needed by check and plan without a table. */
  keys?: KeySchema;
}

type KeyValueOf<T extends KeyType> = T extends "N" ? number : T extends "B" ? Uint8Array : string;

/** The key attributes a declared key schema gives a source item, typed: `{ pk: string; ts: number }`. */
export type KeyFields<K extends KeySchema> = string extends K["partitionKey"]["name"]
  ? { readonly [attribute: string]: unknown }
  : { [P in K["partitionKey"]["name"]]: KeyValueOf<K["partitionKey"]["type"]> } & (K extends { sortKey: infer SK extends KeyAttribute }
      ? { [P in SK["name"]]: KeyValueOf<SK["type"]> }
      : unknown);

/** What a migration's `derive` receives: the schema's output plus the item's key attributes under the table's names. */
export type SourceItem<S extends z.ZodObject, K extends KeySchema = KeySchema> = z.output<S> & KeyFields<K>;

/**
 * Which items are source items; every selector given must hold (they are ANDed), at least one.
 * Prefixes become a Scan FilterExpression and a stream filter pattern; `match` runs in code.
 */
export interface MigrationSource {
  /** The sort key starts with this (a string sort key). */
  skPrefix?: string;
  /** The sort key matches this anchored pattern (a string sort key). */
  skPattern?: RegExp;
  /** The partition key starts with this (a string partition key). */
  pkPrefix?: string;
  /**
   * A pure predicate on the raw item as stored (all its attributes), for entities marked by an
   * attribute (`_type`, ElectroDB's `__edb_e__`). The fields it reads are part of the
   * backfill's race condition, like the schema's.
   */
  match?: (item: Record<string, unknown>) => boolean;
}

/** The file format; see migrations/0001_workflow-context-index.ts for a commented example. */
export interface MigrationSpec<S extends z.ZodObject = z.ZodObject, K extends KeySchema = KeySchema> {
  /** `NNNN_kebab-name`, equal to the file name without `.ts`. */
  id: string;
  description: string;
  /** The table the migration runs on by default (`--table`, FERRY_TABLE or `--stage` name another). */
  table: string;
  /**
   * The key schema the migration expects, e.g. `{ partitionKey: { name: "PK", type: "S" }, sortKey: { name: "SK", type: "S" } }`.
   * Optional: with a table at hand its keys are read from DescribeTable (and a table that
   * disagrees with these is refused); `check` and `plan` on generated items need them.
   */
  keys?: K;
  /** Which items are source items (see MigrationSource). */
  source: MigrationSource;
  /** zod object schema of the source fields `derive` reads (unknown fields are dropped). */
  schema: S;
  /**
   * What the migration makes: "records" (default) new items in the same table, each owned by
   * one source item; "attributes" new attributes on the source item itself (e.g. a new
   * GSI's keys, listed in `attributes`); "table" records in another table (`target`).
   */
  kind?: MigrationKindName;
  /**
   * Pure function of one source item (schema output plus its key attributes): the full set of
   * records it owns ("records", "table"), or the attributes it sets on itself ("attributes").
   */
  derive: (item: SourceItem<S, K>) => DerivedRecord[] | DerivedAttributes;
  /** kind "attributes": the attribute names ferry owns on source items (what derive returns, rollback removes). */
  attributes?: string[];
  /** kind "attributes": the global secondary index the attributes feed; add waits for it, the first move for it to answer. */
  index?: string;
  /** kind "table": the table the records go to. */
  target?: MigrationTarget;
  /**
   * What the remove step deletes once nothing reads v1: old attributes of the source items,
   * and (kind "table") the migrated source items themselves, after a backup.
   */
  cleanup?: { removeAttributes?: string[]; deleteSourceItems?: boolean };
  /** Tuning; missing values come from DEFAULT_MIGRATION_OPTIONS. */
  options?: Partial<MigrationOptions>;
  /**
   * Edge-case items of this table that `ferry check` and the add step's plan guard run
   * derive on before touching real data (the example's: examples/workflows/src/check-cases.ts).
   * The engine knows no table's items, so without it only sampled items are checked.
   */
  checkItems?: () => Iterable<Record<string, unknown>>;
}

/** A validated migration, options filled in. `keys` is set once it is bound to a table (definition/table-keys.ts). */
export interface Migration<S extends z.ZodObject = z.ZodObject> extends Omit<MigrationSpec<S>, "options" | "derive" | "kind"> {
  /** Records and table kinds return DerivedRecord[]; attributes, DerivedAttributes (each kind validates what it gets). */
  derive: (item: SourceItem<S>) => DerivedRecord[] | DerivedAttributes;
  kind: MigrationKindName;
  options: MigrationOptions;
  /** The top-level fields the schema reads (the backfill's race check compares these). */
  readFields: string[];
}

export const MIGRATION_ID_PATTERN = /^\d{4}_[a-z0-9]+(?:-[a-z0-9]+)*$/;

const MigrationSpecSchema = z
  .object({
    id: z.string().regex(MIGRATION_ID_PATTERN, "expected NNNN_kebab-case-name, e.g. 0001_workflow-context-index"),
    description: z.string().min(1, "describe what the migration does in a sentence"),
    table: z.string().min(1),
    keys: KeySchemaSpec.optional(),
    source: z
      .object({
        skPrefix: z.string().min(1, "expected a non-empty prefix such as WF#").optional(),
        skPattern: z.instanceof(RegExp, { message: "expected a RegExp, e.g. /^WF#[^#]+$/" }).optional(),
        pkPrefix: z.string().min(1, "expected a non-empty prefix such as CUST#").optional(),
        match: z
          .custom<(item: Record<string, unknown>) => boolean>((v) => typeof v === "function", {
            message: "expected a function match(item) returning a boolean",
          })
          .optional(),
      })
      .strict()
      .refine((s) => Object.values(s).some((v) => v !== undefined), {
        message: 'select the source items with at least one of skPrefix, skPattern, pkPrefix, match (e.g. { skPrefix: "WF#" })',
      }),
    schema: z.custom<z.ZodObject>((v) => v instanceof z.ZodObject, {
      message: "expected a zod object schema, e.g. z.object({ contexts: z.array(...) })",
    }),
    kind: z.enum(["records", "attributes", "table"]).optional(),
    derive: z.custom<(item: unknown) => DerivedRecord[]>((v) => typeof v === "function", {
      message: "expected a function derive(item) returning an array of records (or, kind attributes, an object of attributes)",
    }),
    attributes: z.array(z.string().min(1)).min(1, "list at least one attribute ferry owns on the source items").optional(),
    index: z.string().min(3, "a global secondary index name has at least 3 characters").optional(),
    target: z
      .object({ table: z.string().min(1), keys: KeySchemaSpec.optional() })
      .strict()
      .optional(),
    cleanup: z
      .object({
        removeAttributes: z.array(z.string().min(1)).min(1, "list at least one attribute").optional(),
        deleteSourceItems: z.boolean().optional(),
      })
      .strict()
      .refine((c) => c.removeAttributes !== undefined || c.deleteSourceItems !== undefined, {
        message: "name what remove deletes: removeAttributes: [...] (or, kind table, deleteSourceItems: true)",
      })
      .optional(),
    options: MigrationOptionsSchema.partial().optional(),
    checkItems: z
      .custom<() => Iterable<Record<string, unknown>>>((v) => typeof v === "function", {
        message: "expected a function returning the items ferry check runs derive on",
      })
      .optional(),
  })
  .strict();

/** A migration file that does not match the format; `issues` name each field. */
export class InvalidMigrationError extends UsageError {
  constructor(
    readonly issues: { path: string; message: string }[],
    readonly file?: string,
  ) {
    super(
      `Invalid migration${file ? ` ${file}` : ""}:\n${issues.map((i) => `  - ${i.path || "(file)"}: ${i.message}`).join("\n")}\n` +
        "See migrations/0001_workflow-context-index.ts for the format, or run `ferry new <name>` for a template.",
    );
  }

  /** The same error, naming the file it came from. */
  inFile(file: string): InvalidMigrationError {
    return new InvalidMigrationError(this.issues, file);
  }
}

const ALLOWED_KEYS: Record<string, string> = {
  "": Object.keys(MigrationSpecSchema.shape).join(", "),
  source: "skPrefix, skPattern, pkPrefix, match",
  keys: "partitionKey, sortKey",
  "keys.partitionKey": "name, type",
  "keys.sortKey": "name, type",
  cleanup: "removeAttributes, deleteSourceItems",
  target: "table, keys",
  "target.keys": "partitionKey, sortKey",
  "target.keys.partitionKey": "name, type",
  "target.keys.sortKey": "name, type",
  options: Object.keys(MigrationOptionsSchema.shape).join(", "),
};

function issuesOf(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.flatMap((issue) => {
    const at = issue.path.map(String);
    if (issue.code === "unrecognized_keys") {
      // Name the unknown key itself, and what is allowed there.
      const allowed = ALLOWED_KEYS[at.join(".")] ?? "see the format";
      return issue.keys.map((key) => ({ path: [...at, key].join("."), message: `unknown field (allowed: ${allowed})` }));
    }
    return [{ path: at.join("."), message: issue.message }];
  });
}

/** Marks what defineMigration returned, so a loader can tell it from a plain object with the same fields. */
export const DEFINED = Symbol.for("ferry.defineMigration");

/** True for a value defineMigration returned. */
export function isDefinedMigration(value: unknown): value is Migration {
  return !!value && typeof value === "object" && (value as Record<symbol, unknown>)[DEFINED] === true;
}

/** Validates a default export that did not come from defineMigration: the issues of the spec, or one saying to wrap it. */
export function plainExportIssues(value: unknown): { path: string; message: string }[] {
  const parsed = MigrationSpecSchema.safeParse(value);
  const wrap = { path: "(default export)", message: "a plain object: export default defineMigration({...}) so it is validated and its options filled in" };
  return parsed.success ? [wrap] : [wrap, ...issuesOf(parsed.error)];
}

/** Declares a migration; validates it and fills in default options. */
export function defineMigration<S extends z.ZodObject, const K extends KeySchema = KeySchema>(spec: MigrationSpec<S, K>): Migration<S> {
  const parsed = MigrationSpecSchema.safeParse(spec);
  if (!parsed.success) throw new InvalidMigrationError(issuesOf(parsed.error));
  const { options, ...rest } = spec;
  if (rest.source.skPattern && !rest.source.skPattern.source.startsWith("^")) {
    throw new InvalidMigrationError([{ path: "source.skPattern", message: "anchor the pattern with ^ so it matches whole sort keys" }]);
  }
  if (rest.keys) {
    const problem = sourceKeyProblem(rest.source, rest.keys);
    if (problem) throw new InvalidMigrationError([{ path: problem.path, message: problem.message }]);
  }
  const kindProblems = kindFieldIssues(rest);
  if (kindProblems.length > 0) throw new InvalidMigrationError(kindProblems);
  return Object.freeze({
    ...rest,
    kind: rest.kind ?? "records",
    options: { ...DEFAULT_MIGRATION_OPTIONS, ...options },
    readFields: Object.keys(spec.schema.shape),
    [DEFINED]: true,
  }) as unknown as Migration<S>;
}

/** The fields each kind needs and the ones it must not have; the kind's module checks the rest (MigrationKind.specIssues). */
function kindFieldIssues(spec: Pick<MigrationSpec, "kind" | "attributes" | "index" | "target" | "cleanup" | "table">): { path: string; message: string }[] {
  const kind = spec.kind ?? "records";
  const issues: { path: string; message: string }[] = [];
  const only = (field: "attributes" | "index" | "target", owner: MigrationKindName) => {
    if (spec[field] !== undefined && kind !== owner)
      issues.push({ path: field, message: `only a migration of kind "${owner}" has ${field} (this one is "${kind}")` });
  };
  only("attributes", "attributes");
  only("index", "attributes");
  only("target", "table");
  if (kind === "attributes" && spec.attributes === undefined) {
    issues.push({ path: "attributes", message: 'list the attribute names ferry sets on source items, e.g. attributes: ["byStatusPk", "byStatusSk"]' });
  }
  if (kind === "table" && spec.target === undefined)
    issues.push({ path: "target", message: 'name the table the records go to, e.g. target: { table: "WorkflowsByContext" }' });
  if (kind === "table" && spec.target?.table === spec.table)
    issues.push({
      path: "target.table",
      message: `the target must be another table than the source (${spec.table}); records beside their sources are the records kind`,
    });
  if (spec.cleanup?.deleteSourceItems !== undefined && kind !== "table") {
    issues.push({ path: "cleanup.deleteSourceItems", message: `only a migration of kind "table" deletes its source items (this one is "${kind}")` });
  }
  return issues;
}

/** Why `source` cannot select items of a table keyed by `keys` (a prefix on a missing or non-string key), or undefined. */
export function sourceKeyProblem(source: MigrationSource, keys: KeySchema): { path: string; message: string } | undefined {
  if ((source.skPrefix !== undefined || source.skPattern !== undefined) && keys.sortKey?.type !== "S") {
    return {
      path: source.skPrefix !== undefined ? "source.skPrefix" : "source.skPattern",
      message: keys.sortKey
        ? `the sort key ${keys.sortKey.name} is of type ${keys.sortKey.type}: a prefix or pattern needs a string sort key (select with match instead)`
        : "the table has no sort key: select with pkPrefix or match instead",
    };
  }
  if (source.pkPrefix !== undefined && keys.partitionKey.type !== "S") {
    return {
      path: "source.pkPrefix",
      message: `the partition key ${keys.partitionKey.name} is of type ${keys.partitionKey.type}: a prefix needs a string partition key (select with match instead)`,
    };
  }
  return undefined;
}

/** A migration used where its keys are needed before it was bound to a table and without declared `keys`. */
export class MissingKeySchemaError extends UsageError {
  constructor(readonly migrationId: string) {
    super(
      `${migrationId} declares no \`keys\` and no table is at hand to read them from: pass --table (or FERRY_TABLE, --stage), ` +
        'or declare keys: { partitionKey: { name: "PK", type: "S" }, sortKey: { name: "SK", type: "S" } } in the migration file.',
    );
  }
}

/** The key schema of `migration`: the table's once bound (table-keys.ts), else its declared `keys`. */
export function keysOf(migration: Pick<Migration, "id" | "keys">): KeySchema {
  if (!migration.keys) throw new MissingKeySchemaError(migration.id);
  return migration.keys;
}

/** A `table` migration used before its target was bound (definition/table-keys.ts) and without declared `target.keys`. */
export class MissingTargetKeySchemaError extends UsageError {
  constructor(
    readonly migrationId: string,
    readonly targetTable: string | undefined,
  ) {
    super(
      `${migrationId} copies into ${targetTable ?? "a target table"} but its key schema is unknown here: run the command against a table (--table, FERRY_TABLE or --stage) ` +
        'so ferry reads the target\'s keys, or declare target.keys: { partitionKey: { name: "ctx", type: "S" }, sortKey: { name: "rank", type: "N" } }.',
    );
  }
}

/** Where a migration's derived records live: the table and its key schema. */
export interface RecordTable {
  tableName: string;
  keys: KeySchema;
}

/** The key schema of the migration's derived records: the target's (kind "table"), else the source table's. */
export function recordKeysOf(migration: Pick<Migration, "id" | "keys" | "kind" | "target">): KeySchema {
  if (migration.kind !== "table") return keysOf(migration);
  if (!migration.target?.keys) throw new MissingTargetKeySchemaError(migration.id, migration.target?.table);
  return migration.target.keys;
}

/** The table the derived records go to: the bound target (kind "table"), else `sourceTable` itself. */
export function recordTableOf(migration: Pick<Migration, "id" | "keys" | "kind" | "target">, sourceTable: string): RecordTable {
  if (migration.kind !== "table") return { tableName: sourceTable, keys: keysOf(migration) };
  return { tableName: migration.target?.table ?? sourceTable, keys: recordKeysOf(migration) };
}

/** True when `key`'s key attributes pass the migration's key selectors (pkPrefix, skPrefix, skPattern); `match` is not consulted. */
export function isSourceKey(migration: Pick<Migration, "id" | "keys" | "source">, key: Record<string, unknown>): boolean {
  const { source } = migration;
  const keys = keysOf(migration);
  if (source.pkPrefix !== undefined) {
    const pk = key[keys.partitionKey.name];
    if (typeof pk !== "string" || !pk.startsWith(source.pkPrefix)) return false;
  }
  if (source.skPrefix !== undefined || source.skPattern !== undefined) {
    const sk = keys.sortKey ? key[keys.sortKey.name] : undefined;
    if (typeof sk !== "string") return false;
    if (source.skPrefix !== undefined && !sk.startsWith(source.skPrefix)) return false;
    if (source.skPattern && !source.skPattern.test(sk)) return false;
  }
  return true;
}

/** The key of a source item or record under the migration's key schema. */
export function migrationKeyOf(migration: Pick<Migration, "id" | "keys">, item: Record<string, unknown>): ItemKey {
  return keyOf(keysOf(migration), item);
}
