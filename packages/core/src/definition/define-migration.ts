/**
 * `defineMigration`: how a team declares a migration. One declaration (source items, the
 * zod schema of the fields the conversion reads, and a pure `derive`) drives the
 * dual-write, the backfill, verification and the v2 endpoints.
 */
import { z } from "zod";
import { UsageError } from "../errors.ts";
import { DEFAULT_MIGRATION_OPTIONS, type MigrationOptions, MigrationOptionsSchema } from "./options.ts";

/** The key of an item in the table (the shared key schema: PK, SK). */
export interface ItemKey {
  PK: string;
  SK: string;
}

/** One record `derive` produces: its key plus any attributes. */
export type DerivedRecord = ItemKey & Record<string, unknown>;

/** What a migration's `derive` receives: the schema's output plus the item's key. */
export type SourceItem<S extends z.ZodObject> = z.output<S> & ItemKey;

/** The file format; see migrations/0001_workflow-context-index.ts for a commented example. */
export interface MigrationSpec<S extends z.ZodObject = z.ZodObject> {
  /** `NNNN_kebab-name`, equal to the file name without `.ts`. */
  id: string;
  description: string;
  /** Logical table the migration runs on (e.g. "Workflows"). */
  table: string;
  /** Which items are source items: SK prefix, optionally narrowed by a pattern. */
  source: { skPrefix: string; skPattern?: RegExp };
  /** zod object schema of the source fields `derive` reads (unknown fields are dropped). */
  schema: S;
  /** Pure function: one source item to the full set of records it owns. */
  derive: (item: SourceItem<S>) => DerivedRecord[];
  /** Old attributes the remove step deletes from source items. */
  cleanup?: { removeAttributes: string[] };
  /** Tuning; missing values come from DEFAULT_MIGRATION_OPTIONS. */
  options?: Partial<MigrationOptions>;
  /**
   * Edge-case items of this table that `ferry check` and the add step's plan guard run
   * derive on before touching real data (the example's: examples/workflows/src/check-cases.ts).
   * The engine knows no table's items, so without it only sampled items are checked.
   */
  checkItems?: () => Iterable<Record<string, unknown>>;
}

/** A validated migration, options filled in. */
export interface Migration<S extends z.ZodObject = z.ZodObject> extends Omit<MigrationSpec<S>, "options"> {
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
    source: z
      .object({
        skPrefix: z.string().min(1, "a source prefix such as WF# is required"),
        skPattern: z.instanceof(RegExp, { message: "expected a RegExp, e.g. /^WF#[^#]+$/" }).optional(),
      })
      .strict(),
    schema: z.custom<z.ZodObject>((v) => v instanceof z.ZodObject, {
      message: "expected a zod object schema, e.g. z.object({ contexts: z.array(...) })",
    }),
    derive: z.custom<(item: unknown) => DerivedRecord[]>((v) => typeof v === "function", {
      message: "expected a function derive(item) returning an array of records",
    }),
    cleanup: z
      .object({ removeAttributes: z.array(z.string().min(1)).min(1, "list at least one attribute") })
      .strict()
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
  source: "skPrefix, skPattern",
  cleanup: "removeAttributes",
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
export function defineMigration<S extends z.ZodObject>(spec: MigrationSpec<S>): Migration<S> {
  const parsed = MigrationSpecSchema.safeParse(spec);
  if (!parsed.success) throw new InvalidMigrationError(issuesOf(parsed.error));
  const { options, ...rest } = spec;
  if (rest.source.skPattern && !rest.source.skPattern.source.startsWith("^")) {
    throw new InvalidMigrationError([{ path: "source.skPattern", message: "anchor the pattern with ^ so it matches whole sort keys" }]);
  }
  return Object.freeze({
    ...rest,
    options: { ...DEFAULT_MIGRATION_OPTIONS, ...options },
    readFields: Object.keys(spec.schema.shape),
    [DEFINED]: true,
  });
}

/** True when `key` is one of this migration's source items. */
export function isSourceKey(migration: Pick<Migration, "source">, key: { SK?: unknown }): boolean {
  const sk = key.SK;
  if (typeof sk !== "string" || !sk.startsWith(migration.source.skPrefix)) return false;
  return migration.source.skPattern ? migration.source.skPattern.test(sk) : true;
}
