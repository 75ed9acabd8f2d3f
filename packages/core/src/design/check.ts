/**
 * `ferry check`: runs a migration's derive on generated and sampled items the way the
 * dual-write and the backfill will, and reports every way it would go wrong (schema
 * mismatches, exceptions, nondeterminism, reads outside the schema, invalid or colliding
 * records) with the keys of the first offending items.
 */
import { type KindStatus, kindStatus } from "../kinds/describe.ts";
import { type DerivedRecord, type ItemKey, type Migration, keysOf, recordKeysOf } from "../definition/define-migration.ts";
import {
  type DeriveOptions,
  DeriveError,
  InvalidDerivedRecordsError,
  SourceMatchError,
  SourceSchemaError,
  deriveRecords,
  keyId,
  keyOf,
  keyText,
  sameRecord,
} from "../definition/derive.ts";
import { isSourceItem } from "../definition/source.ts";
import { DEFAULT_DERIVE_TIMEOUT_MS, TimeBudgetExceededError, withinTimeBudget } from "../definition/time-budget.ts";
import { type KeySchema, keyNames } from "../dynamo/key-schema.ts";
import { itemSize } from "../dynamo/item-size.ts";
import { FerryError } from "../errors.ts";
import { kindOf } from "../kinds/registry.ts";

/** Every problem `check` looks for, with the label it prints. */
export const CHECK_CATEGORIES = {
  schemaMismatch: "items the schema rejects",
  deriveThrew: "derive() threw",
  deriveTimedOut: "derive() over its time budget",
  nondeterministic: "derive() not deterministic",
  readsOutsideSchema: "derive() reads fields outside the schema",
  sourceKeyCollision: "record keys matching the source",
  invalidKeys: "records without the table's key attributes or of the wrong type",
  sizeLimit: "records over 400 KB or key limits",
  tooManyRecords: "items over maxRecordsPerItem",
  invalidRecords: "other invalid records",
  crossItemCollision: "record keys derived by two items",
  existingItemCollision: "record keys of other items in the table",
} as const;

export type CheckCategory = keyof typeof CHECK_CATEGORIES;
export type CheckOrigin = "generated" | "sample";

export interface CheckExample {
  origin: CheckOrigin;
  /** The source item at fault. */
  key: ItemKey;
  message: string;
}

export interface CategoryReport {
  /** Source items with this problem. */
  count: number;
  examples: CheckExample[];
}

export interface CheckReport {
  migrationId: string;
  /** The kind and what it owns (kinds/describe.ts). */
  kind: KindStatus;
  /** Source items checked, by origin (duplicates and non-source items are not counted). */
  checked: Record<CheckOrigin, number>;
  /** Generated items that are not this migration's source items. */
  skippedGenerated: number;
  records: {
    /** Items derived without error, and how many of them derive nothing. */
    items: number;
    itemsWithoutRecords: number;
    total: number;
    perItemMean: number;
    perItemMax: number;
    /** Sizes of the stamped records, as DynamoDB counts them. */
    bytesMean: number;
    bytesMax: number;
  };
  problems: Record<CheckCategory, CategoryReport>;
  /** Set when the check stopped before deriving every item (derive kept running over its budget). */
  stopped?: string;
  /** Sum of the categories' counts. */
  problemCount: number;
  ok: boolean;
}

export interface CheckInput {
  /** Generated edge-case items (a migration's `checkItems`); non-source items are skipped. */
  generated?: Iterable<Record<string, unknown>>;
  /** Items sampled from the table (see sampleTable). */
  sampleItems?: Iterable<Record<string, unknown>>;
  /** keyIds of the table's other items (TableSample.otherKeys, with who holds each): records must not overwrite them. */
  otherKeys?: ReadonlySet<string> | ReadonlyMap<string, string>;
  /** A `table` migration's: keyIds of the target's items that are not its records (TableSample.target), with who holds each. */
  targetKeys?: ReadonlyMap<string, string>;
  /** The target's name, for the messages. */
  targetTable?: string;
  /** Examples kept per category. */
  examples?: number;
  /** How long one derive may run (ms); default DEFAULT_DERIVE_TIMEOUT_MS. */
  deriveTimeoutMs?: number;
}

/** After this many derives over their budget, check stops deriving (each one costs the whole budget). */
export const MAX_TIMEOUTS = 3;

export const DEFAULT_CHECK_EXAMPLES = 3;

/** The check found problems; carries the report so `--json` can print it. */
export class CheckFailedError extends FerryError {
  constructor(readonly report: CheckReport) {
    const found = (Object.keys(CHECK_CATEGORIES) as CheckCategory[])
      .filter((c) => report.problems[c].count > 0)
      .map((c) => `${CHECK_CATEGORIES[c]}: ${report.problems[c].count}`);
    super(`${report.migrationId} failed the check (${found.join("; ")}). Fix the migration file and run \`ferry check\` again.`);
  }
}

/**
 * Checks `migration` on the given items; never throws for a bad item, only reports it. Needs
 * the migration's keys: declared in the file, or bound to the table sampled (table-keys.ts);
 * without either it throws MissingKeySchemaError saying to declare `keys` or pass --table.
 */
export function checkMigration(migration: Migration, input: CheckInput = {}): CheckReport {
  const keys = keysOf(migration);
  // The derived records' key schema: a `table` migration's target's (its records live in another table).
  const recordKeys = recordKeysOf(migration);
  const inOneTable = migration.kind !== "table";
  const limit = input.examples ?? DEFAULT_CHECK_EXAMPLES;
  const problems = Object.fromEntries(Object.keys(CHECK_CATEGORIES).map((c) => [c, { count: 0, examples: [] as CheckExample[] }])) as Record<
    CheckCategory,
    CategoryReport
  >;
  const noted = new Set<string>();
  const note = (category: CheckCategory, origin: CheckOrigin, key: ItemKey, message: string) => {
    const once = `${category}|${keyId(keys, key)}|${origin}`;
    if (noted.has(once)) return;
    noted.add(once);
    const entry = problems[category];
    entry.count++;
    if (entry.examples.length < limit) entry.examples.push({ origin, key, message });
  };
  const counts = { generated: 0, sample: 0 };
  const stats = { items: 0, itemsWithoutRecords: 0, total: 0, perItemMax: 0, bytes: 0, bytesMax: 0 };
  let skippedGenerated = 0;
  const budget = input.deriveTimeoutMs ?? DEFAULT_DERIVE_TIMEOUT_MS;
  let stopped: string | undefined;

  // Keys of every source item checked, and the records derived, to find records that would overwrite a source.
  const sourceKeys = new Map<string, ItemKey>();
  const derived: { origin: CheckOrigin; owner: ItemKey; record: DerivedRecord }[] = [];
  const run = (origin: CheckOrigin, items: Iterable<Record<string, unknown>>) => {
    // Which source item owns each derived key, within this origin's items.
    const owners = new Map<string, ItemKey>();
    const seen = new Set<string>();
    for (const item of items) {
      if (stopped) return;
      let source: boolean;
      try {
        source = isSourceItem(migration, item);
      } catch (err) {
        if (!(err instanceof SourceMatchError)) throw err;
        note("deriveThrew", origin, err.key, err.message);
        continue;
      }
      if (!source) {
        if (origin === "generated") skippedGenerated++;
        continue;
      }
      const key = keyOf(keys, item);
      sourceKeys.set(keyId(keys, key), key);
      if (seen.has(keyId(keys, key))) continue;
      seen.add(keyId(keys, key));
      counts[origin]++;
      const records = checkItem(migration, recordKeys, item, (category, message) => note(category, origin, key, message), budget);
      if (problems.deriveTimedOut.count >= MAX_TIMEOUTS) {
        stopped = `stopped after ${MAX_TIMEOUTS} derives ran over their ${budget} ms budget`;
        return;
      }
      if (!records) continue;
      stats.items++;
      if (records.length === 0) stats.itemsWithoutRecords++;
      stats.total += records.length;
      stats.perItemMax = Math.max(stats.perItemMax, records.length);
      for (const record of records) {
        derived.push({ origin, owner: key, record });
        const size = itemSize(record);
        stats.bytes += size;
        stats.bytesMax = Math.max(stats.bytesMax, size);
        const id = keyId(recordKeys, record);
        const owner = owners.get(id);
        if (owner && keyId(keys, owner) !== keyId(keys, key)) {
          note("crossItemCollision", origin, key, `record ${keyText(keyOf(recordKeys, record))} is also derived by ${keyText(owner)}`);
        } else owners.set(id, key);
        // A copy's records go to its target: they are compared with the target's items instead.
        if (!inOneTable && origin === "sample" && input.targetKeys?.has(id)) {
          note(
            "existingItemCollision",
            origin,
            key,
            `record ${keyText(keyOf(recordKeys, record))} would land on an item already in the target table${input.targetTable ? ` ${input.targetTable}` : ""}: ${input.targetKeys.get(id)}`,
          );
        }
        if (inOneTable && origin === "sample" && input.otherKeys?.has(id)) {
          const holder = input.otherKeys instanceof Map ? input.otherKeys.get(id) : undefined;
          note(
            "existingItemCollision",
            origin,
            key,
            `record ${keyText(keyOf(keys, record))} would overwrite an item already in the table${holder ? `: ${holder}` : ""}`,
          );
        }
      }
    }
  };
  run("generated", input.generated ?? []);
  run("sample", input.sampleItems ?? []);
  // A record on the key of a source item (generated or sampled) would overwrite it: the owned-put condition would refuse it at run time.
  for (const { origin, owner, record } of inOneTable ? derived : []) {
    const hit = sourceKeys.get(keyId(keys, record));
    if (hit && keyId(keys, hit) !== keyId(keys, owner)) {
      note("sourceKeyCollision", origin, owner, `record ${keyText(keyOf(keys, record))} collides with the source item ${keyText(hit)}`);
    }
  }

  const problemCount = Object.values(problems).reduce((n, p) => n + p.count, 0);
  return {
    migrationId: migration.id,
    kind: kindStatus(migration),
    checked: counts,
    skippedGenerated,
    records: {
      items: stats.items,
      itemsWithoutRecords: stats.itemsWithoutRecords,
      total: stats.total,
      perItemMean: stats.items ? stats.total / stats.items : 0,
      perItemMax: stats.perItemMax,
      bytesMean: stats.total ? stats.bytes / stats.total : 0,
      bytesMax: stats.bytesMax,
    },
    problems,
    ...(stopped ? { stopped } : {}),
    problemCount,
    ok: problemCount === 0,
  };
}

type Note = (category: CheckCategory, message: string) => void;

/** Derives one item four ways (twice as is, on the raw item, through a recording Proxy); returns its records when the first derive succeeded. */
function checkItem(migration: Migration, keys: KeySchema, item: Record<string, unknown>, note: Note, budgetMs: number): DerivedRecord[] | undefined {
  const run = (call: () => unknown) => withinTimeBudget(call, budgetMs);
  const first = attempt(migration, structuredClone(item), { run });
  if ("error" in first) {
    noteFailure(first.error, note);
    return undefined;
  }
  const again = attempt(migration, structuredClone(item), { run });
  if ("error" in again) {
    note("nondeterministic", `the first derive succeeded, the second threw: ${again.error.message}`);
  } else if (!sameRecords(keys, first.records, again.records)) {
    note("nondeterministic", `two derives of the same item differ: ${difference(keys, first.records, again.records)}`);
  } else {
    // derive receives only the schema's fields: a read of any other field sees undefined, and
    // the backfill's race check compares only the schema's fields. Name the fields it reads...
    const reads = new Set<string>();
    const known = new Set([...migration.readFields, ...keyNames(keysOf(migration))]);
    const recorded = attempt(migration, structuredClone(item), { run, view: (source) => recordingReads(source, known, reads) });
    const outside = [...reads].sort();
    if (outside.length > 0 && !("error" in recorded)) {
      const present = outside.filter((f) => f in item);
      note(
        "readsOutsideSchema",
        `derive reads ${outside.map((f) => `"${f}"`).join(", ")}, not in the schema${present.length ? ` (present in the item: ${present.join(", ")}; derive sees undefined)` : ""}: add ${outside.length > 1 ? "them" : "it"} to the schema`,
      );
    } else {
      // ...and catch nested fields the schema strips: derive on the whole item must agree.
      const raw = attempt(migration, structuredClone(item), { run, view: (source) => mergeDeep(structuredClone(item), source) as typeof source });
      if (!("error" in raw) && !sameRecords(keys, first.records, raw.records)) {
        note("readsOutsideSchema", `records change when derive sees the whole item (fields the schema drops): ${difference(keys, first.records, raw.records)}`);
      } else if (outside.length > 0) {
        note(
          "readsOutsideSchema",
          `derive reads ${outside.map((f) => `"${f}"`).join(", ")}, not in the schema: add ${outside.length > 1 ? "them" : "it"} to the schema`,
        );
      }
    }
  }
  return first.records;
}

// Names that runtimes and libraries probe on any object; reading them is not reading a field.
const PROBED = new Set(["then", "toJSON", "asymmetricMatch", "$$typeof", "nodeType", "@@__IMMUTABLE_ITERABLE__@@", "@@__IMMUTABLE_RECORD__@@"]);

/** `source` behind a Proxy that adds to `reads` every top-level field read that `known` does not list. */
function recordingReads<T extends object>(source: T, known: ReadonlySet<string>, reads: Set<string>): T {
  const noteRead = (target: object, prop: string | symbol) => {
    // A field (own, e.g. through a loose schema, or absent), not a method of Object.prototype.
    if (typeof prop === "string" && !known.has(prop) && !PROBED.has(prop) && (Object.hasOwn(target, prop) || !(prop in target))) reads.add(prop);
  };
  return new Proxy(source, {
    get(target, prop, receiver) {
      noteRead(target, prop);
      return Reflect.get(target, prop, receiver);
    },
    has(target, prop) {
      noteRead(target, prop);
      return Reflect.has(target, prop);
    },
  });
}

/** `base` with `over` laid on top, object by object: fields only `base` has stay. */
function mergeDeep(base: unknown, over: unknown): unknown {
  if (Array.isArray(base) && Array.isArray(over)) return base.length === over.length ? over.map((v, i) => mergeDeep(base[i], v)) : over;
  const plain = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype;
  if (!plain(base) || !plain(over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = mergeDeep(base[k], v);
  return out;
}

function attempt(migration: Migration, item: Record<string, unknown>, options: DeriveOptions = {}): { records: DerivedRecord[] } | { error: FerryError } {
  try {
    // Kinds other than records show their derived state as records (kinds/kind.ts deriveForCheck).
    const kind = kindOf(migration);
    return { records: kind.deriveForCheck ? kind.deriveForCheck(migration, item, options) : deriveRecords(migration, item, options) };
  } catch (err) {
    if (err instanceof FerryError) return { error: err };
    throw err;
  }
}

function noteFailure(error: FerryError, note: Note): void {
  if (error instanceof SourceSchemaError) {
    note("schemaMismatch", error.issues.join("; "));
    return;
  }
  if (error instanceof DeriveError) {
    const cause = error.cause;
    if (cause instanceof TimeBudgetExceededError) {
      note("deriveTimedOut", `derive ${cause.message}`);
      return;
    }
    note("deriveThrew", cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause));
    return;
  }
  if (error instanceof InvalidDerivedRecordsError) {
    for (const problem of error.problems) note(problemCategory(problem), problem);
    return;
  }
  note("invalidRecords", error.message);
}

/** Maps a problem line of InvalidDerivedRecordsError (definition/derive.ts) to its category. */
export function problemCategory(problem: string): CheckCategory {
  if (/collides with source items/.test(problem)) return "sourceKeyCollision";
  if (/key attribute "[^"]*" (is missing|must )/.test(problem)) return "invalidKeys";
  if (/400 KB item limit| over \d+ bytes/.test(problem)) return "sizeLimit";
  if (/more than maxRecordsPerItem/.test(problem)) return "tooManyRecords";
  return "invalidRecords";
}

/** Same records, in any order. */
function sameRecords(keys: KeySchema, a: DerivedRecord[], b: DerivedRecord[]): boolean {
  if (a.length !== b.length) return false;
  const byKey = new Map(b.map((r) => [keyId(keys, r), r]));
  return a.every((r) => {
    const other = byKey.get(keyId(keys, r));
    return other !== undefined && sameRecord(r, other);
  });
}

function difference(keys: KeySchema, a: DerivedRecord[], b: DerivedRecord[]): string {
  const inB = new Map(b.map((r) => [keyId(keys, r), r]));
  for (const r of a) {
    const other = inB.get(keyId(keys, r));
    if (!other) return `${keyText(keyOf(keys, r))} derived only the first time`;
    if (!sameRecord(r, other)) {
      const fields = [...new Set([...Object.keys(r), ...Object.keys(other)])].filter((f) => !sameRecord({ v: r[f] }, { v: other[f] }));
      return `${keyText(keyOf(keys, r))} differs in ${fields.join(", ")}`;
    }
  }
  const inA = new Set(a.map((r) => keyId(keys, r)));
  const extra = b.find((r) => !inA.has(keyId(keys, r)));
  return extra ? `${keyText(keyOf(keys, extra))} derived only the second time` : `${a.length} records, then ${b.length}`;
}
