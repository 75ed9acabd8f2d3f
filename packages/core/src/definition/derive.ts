/**
 * Runs a migration's `derive` on one source item the same way everywhere (dual-write,
 * backfill, verify, check): parse with the schema, derive, validate the records, and stamp
 * each with its owner so that orphans and rollbacks can be found exactly.
 */
import { isDeepStrictEqual } from "node:util";
import { MAX_ITEM_BYTES, MAX_PARTITION_KEY_BYTES, MAX_SORT_KEY_BYTES, itemSize } from "../dynamo/item-size.ts";
import { type KeySchema, keyAttributes, keyId, keyOf, keyText, keyValueProblem, sameKey } from "../dynamo/key-schema.ts";
import { FerryError } from "../errors.ts";
import { type DerivedRecord, type ItemKey, type Migration, OWNER_ATTRIBUTE, isSourceKey, keysOf, recordKeysOf } from "./define-migration.ts";

export { OWNER_ATTRIBUTE } from "./define-migration.ts";
export { keyId, keyOf, keyText } from "../dynamo/key-schema.ts";

export interface OwnerStamp {
  migration: string;
  owner: ItemKey;
}

/** A source item whose fields do not match the migration's schema. */
export class SourceSchemaError extends FerryError {
  constructor(
    readonly migrationId: string,
    readonly key: ItemKey,
    readonly issues: string[],
  ) {
    super(
      `Source item ${keyText(key)} does not match the schema of ${migrationId}: ${issues.join("; ")}. ` +
        "Fix the item or widen the schema in the migration file.",
    );
  }
}

/** `derive` threw for a source item. */
export class DeriveError extends FerryError {
  constructor(
    readonly migrationId: string,
    readonly key: ItemKey,
    cause: unknown,
  ) {
    super(`derive() of ${migrationId} threw for ${keyText(key)}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** `derive` returned records that break a rule (keys, sizes, count, collisions). */
export class InvalidDerivedRecordsError extends FerryError {
  constructor(
    readonly migrationId: string,
    readonly key: ItemKey,
    readonly problems: string[],
  ) {
    super(`derive() of ${migrationId} returned invalid records for ${keyText(key)}:\n  - ${problems.join("\n  - ")}`);
  }
}

/** A source item that `source.match` threw on: the predicate must be pure and total. */
export class SourceMatchError extends FerryError {
  constructor(
    readonly migrationId: string,
    readonly key: ItemKey,
    cause: unknown,
  ) {
    super(
      `source.match of ${migrationId} threw for ${keyText(key)}: ${cause instanceof Error ? cause.message : String(cause)}. Make match total (return false for items it does not select).`,
      { cause },
    );
  }
}

/** The schema's view of a source item: the fields the conversion reads, plus its key attributes under the table's names. */
export function projectSource(migration: Migration, item: Record<string, unknown>): Record<string, unknown> {
  const key = keyOf(keysOf(migration), item);
  const parsed = migration.schema.safeParse(item);
  if (!parsed.success) {
    throw new SourceSchemaError(
      migration.id,
      key,
      parsed.error.issues.map((i) => `${i.path.map(String).join(".") || "(item)"}: ${i.message}`),
    );
  }
  return { ...(parsed.data as Record<string, unknown>), ...key };
}

/** How `check` runs derive: on another view of the source (a recording Proxy, the raw item), with a time budget. */
export interface DeriveOptions {
  /** Replaces the projected source derive receives. */
  view?: (projected: Record<string, unknown>) => Record<string, unknown>;
  /** Runs the call (e.g. withinTimeBudget); default: calls it. */
  run?: (call: () => unknown) => unknown;
}

/** The records `item` owns under `migration`, validated and stamped with their owner. */
export function deriveRecords(migration: Migration, item: Record<string, unknown>, options: DeriveOptions = {}): DerivedRecord[] {
  const source = projectSource(migration, item);
  const keys = keysOf(migration);
  const key = keyOf(keys, source);
  let records: unknown;
  try {
    const view = options.view ? options.view(source) : source;
    records = options.run ? options.run(() => migration.derive(view as never)) : migration.derive(view as never);
  } catch (err) {
    throw new DeriveError(migration.id, key, err);
  }
  // A `table` migration's records are keyed by the target's schema; the stamp keeps the owner's source key.
  const problems = checkRecords(migration, recordKeysOf(migration), key, records);
  if (problems.length > 0) throw new InvalidDerivedRecordsError(migration.id, key, problems);
  const stamp: OwnerStamp = { migration: migration.id, owner: key };
  return (records as DerivedRecord[]).map((r) => ({ ...r, [OWNER_ATTRIBUTE]: stamp }));
}

function checkRecords(migration: Migration, keys: KeySchema, owner: ItemKey, records: unknown): string[] {
  if (!Array.isArray(records)) return [`expected an array of records, got ${typeof records}`];
  const problems: string[] = [];
  if (records.length > migration.options.maxRecordsPerItem) {
    problems.push(`${records.length} records, more than maxRecordsPerItem (${migration.options.maxRecordsPerItem})`);
  }
  const seen = new Set<string>();
  for (const [i, record] of (records as unknown[]).entries()) {
    if (typeof record !== "object" || record === null) {
      problems.push(`record ${i}: expected an object`);
      continue;
    }
    const r = record as Record<string, unknown>;
    // Name the record by whatever key attributes it has, and the attribute at fault.
    const present = Object.fromEntries(keyAttributes(keys).flatMap(({ name }) => (r[name] === undefined ? [] : [[name, r[name]]])));
    const at = `record ${i}`;
    const named = `${at}${Object.keys(present).length ? ` (${keyText(present)})` : ""}`;
    const keyProblems = keyAttributes(keys).flatMap((attribute) => keyValueProblem(attribute, r[attribute.name]) ?? []);
    if (keyProblems.length > 0) {
      for (const problem of keyProblems) problems.push(`${named}: ${problem}`);
      continue;
    }
    if (OWNER_ATTRIBUTE in r) problems.push(`${at}: attribute "${OWNER_ATTRIBUTE}" is reserved for ferry`);
    for (const [attribute, max] of [
      [keys.partitionKey, MAX_PARTITION_KEY_BYTES],
      [keys.sortKey, MAX_SORT_KEY_BYTES],
    ] as const) {
      if (!attribute || attribute.type === "N") continue;
      const value = r[attribute.name] as string | Uint8Array;
      const bytes = typeof value === "string" ? Buffer.byteLength(value) : value.length;
      if (bytes > max) problems.push(`${at}: key attribute "${attribute.name}" over ${max} bytes`);
    }
    const id = keyId(keys, r);
    if (seen.has(id)) problems.push(`${at}: duplicate key ${keyText(keyOf(keys, r))}`);
    seen.add(id);
    // Records in another table (kind "table") cannot collide with the source items.
    if (migration.kind !== "table" && (sameKey(keys, r, owner) || looksLikeSource(migration, r))) {
      problems.push(`${at}: key ${keyText(keyOf(keys, r))} collides with source items (${collisionText(migration, owner, r)})`);
    }
    const unstorable = unstorableAttribute(r);
    if (unstorable) {
      problems.push(`${named}: attribute ${unstorable}; DynamoDB stores strings, numbers, booleans, null, binary, lists, maps and sets`);
      continue;
    }
    const size = itemSize({ ...r, [OWNER_ATTRIBUTE]: { migration: migration.id, owner } });
    if (size > MAX_ITEM_BYTES) problems.push(`${at}: ${size} bytes, over DynamoDB's 400 KB item limit`);
  }
  return problems;
}

/** A record whose key the key selectors (prefixes) pick as a source's, and that `match` (if any) accepts: it could be read as a source item. */
function looksLikeSource(migration: Migration, record: Record<string, unknown>): boolean {
  const { source } = migration;
  if (source.pkPrefix === undefined && source.skPrefix === undefined && source.skPattern === undefined) return false;
  if (!isSourceKey(migration, record)) return false;
  try {
    return source.match ? source.match(record) === true : true;
  } catch {
    return false;
  }
}

function collisionText(migration: Migration, owner: ItemKey, record: Record<string, unknown>): string {
  if (sameKey(keysOf(migration), owner, record)) return "it is the key of the item it derives from";
  const { pkPrefix, skPrefix, skPattern } = migration.source;
  const prefixes = [pkPrefix && `${pkPrefix}...`, skPrefix && `${skPrefix}...`].filter(Boolean);
  return prefixes.length ? prefixes.join(" ") : String(skPattern);
}

/** The first attribute (path) DynamoDB cannot store, with what it is; undefined when every value can be stored (also the attributes kind's check). */
export function unstorableAttribute(value: unknown, path = ""): string | undefined {
  const at = (name: string) => (path ? `${path}.${name}` : `"${name}"`);
  if (typeof value === "function") return `${path} is a function`;
  if (typeof value === "symbol") return `${path} is a symbol`;
  if (typeof value === "number" && !Number.isFinite(value)) return `${path} is ${value}`;
  if (value === null || typeof value !== "object" || value instanceof Uint8Array) return undefined;
  if (value instanceof Set) {
    for (const member of value)
      if (typeof member !== "string" && typeof member !== "number" && !(member instanceof Uint8Array)) return `${path} is a set of ${typeof member}`;
    return undefined;
  }
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const bad = unstorableAttribute(v, `${path}[${i}]`);
      if (bad) return bad;
    }
    return undefined;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return `${path} is a ${proto?.constructor?.name ?? "class"} instance (convert it to plain values)`;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const bad = unstorableAttribute(v, at(k));
    if (bad) return bad;
  }
  return undefined;
}

/** The owner stamp of a derived record of `migrationId` (the owner's key in the table's names), or undefined for any other item. */
export function ownerOf(item: Record<string, unknown>, migrationId: string): ItemKey | undefined {
  const stamp = item[OWNER_ATTRIBUTE] as Partial<OwnerStamp> | undefined;
  if (!stamp || typeof stamp !== "object" || stamp.migration !== migrationId || !stamp.owner) return undefined;
  return stamp.owner;
}

/** Deep equality of two records as DynamoDB would store them. */
export function sameRecord(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  return isDeepStrictEqual(normalize(a), normalize(b));
}

function normalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalize);
  if (value instanceof Set) return [...value].map(normalize).sort();
  if (value && typeof value === "object" && !(value instanceof Uint8Array)) {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, normalize(v)]),
    );
  }
  return value;
}
