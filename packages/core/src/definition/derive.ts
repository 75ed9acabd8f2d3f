/**
 * Runs a migration's `derive` on one source item the same way everywhere (dual-write,
 * backfill, verify, check): parse with the schema, derive, validate the records, and stamp
 * each with its owner so that orphans and rollbacks can be found exactly.
 */
import { isDeepStrictEqual } from "node:util";
import { MAX_ITEM_BYTES, MAX_PARTITION_KEY_BYTES, MAX_SORT_KEY_BYTES, itemSize } from "../dynamo/item-size.ts";
import { FerryError } from "../errors.ts";
import { type DerivedRecord, type ItemKey, type Migration, isSourceKey } from "./define-migration.ts";

/** Attribute ferry adds to every derived record: `{ migration, owner: { PK, SK } }`. */
export const OWNER_ATTRIBUTE = "ferry";

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

export function keyText(key: { PK?: unknown; SK?: unknown }): string {
  return `PK=${JSON.stringify(key.PK)} SK=${JSON.stringify(key.SK)}`;
}

export function keyId(key: { PK: unknown; SK: unknown }): string {
  return JSON.stringify([key.PK, key.SK]);
}

/** The PK/SK of any item. */
export function keyOf(item: { PK: unknown; SK: unknown }): ItemKey {
  return { PK: String(item.PK), SK: String(item.SK) };
}

/** The schema's view of a source item: the fields the conversion reads, plus its key. */
export function projectSource(migration: Migration, item: Record<string, unknown>): Record<string, unknown> & ItemKey {
  const key = keyOf(item as unknown as ItemKey);
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
  view?: (projected: Record<string, unknown> & ItemKey) => Record<string, unknown>;
  /** Runs the call (e.g. withinTimeBudget); default: calls it. */
  run?: (call: () => unknown) => unknown;
}

/** The records `item` owns under `migration`, validated and stamped with their owner. */
export function deriveRecords(migration: Migration, item: Record<string, unknown>, options: DeriveOptions = {}): DerivedRecord[] {
  const source = projectSource(migration, item);
  const key = keyOf(source);
  let records: unknown;
  try {
    const view = options.view ? options.view(source) : source;
    records = options.run ? options.run(() => migration.derive(view as never)) : migration.derive(view as never);
  } catch (err) {
    throw new DeriveError(migration.id, key, err);
  }
  const problems = checkRecords(migration, key, records);
  if (problems.length > 0) throw new InvalidDerivedRecordsError(migration.id, key, problems);
  const stamp: OwnerStamp = { migration: migration.id, owner: key };
  return (records as DerivedRecord[]).map((r) => ({ ...r, [OWNER_ATTRIBUTE]: stamp }));
}

function checkRecords(migration: Migration, owner: ItemKey, records: unknown): string[] {
  if (!Array.isArray(records)) return [`expected an array of records, got ${typeof records}`];
  const problems: string[] = [];
  if (records.length > migration.options.maxRecordsPerItem) {
    problems.push(`${records.length} records, more than maxRecordsPerItem (${migration.options.maxRecordsPerItem})`);
  }
  const seen = new Set<string>();
  for (const [i, record] of (records as unknown[]).entries()) {
    const at = `record ${i}`;
    if (typeof record !== "object" || record === null) {
      problems.push(`${at}: expected an object`);
      continue;
    }
    const r = record as Record<string, unknown>;
    if (typeof r.PK !== "string" || r.PK === "") {
      problems.push(`${at}: PK must be a non-empty string`);
      continue;
    }
    if (typeof r.SK !== "string" || r.SK === "") {
      problems.push(`${at}: SK must be a non-empty string`);
      continue;
    }
    if (OWNER_ATTRIBUTE in r) problems.push(`${at}: attribute "${OWNER_ATTRIBUTE}" is reserved for ferry`);
    if (Buffer.byteLength(r.PK) > MAX_PARTITION_KEY_BYTES) problems.push(`${at}: PK over ${MAX_PARTITION_KEY_BYTES} bytes`);
    if (Buffer.byteLength(r.SK) > MAX_SORT_KEY_BYTES) problems.push(`${at}: SK over ${MAX_SORT_KEY_BYTES} bytes`);
    const id = keyId(r as unknown as ItemKey);
    if (seen.has(id)) problems.push(`${at}: duplicate key ${keyText(r)}`);
    seen.add(id);
    if (isSourceKey(migration, r) || (r.PK === owner.PK && r.SK === owner.SK)) {
      problems.push(`${at}: key ${keyText(r)} collides with source items (${migration.source.skPrefix}...)`);
    }
    const unstorable = unstorableAttribute(r);
    if (unstorable) {
      problems.push(`${at} (${keyText(r)}): attribute ${unstorable}; DynamoDB stores strings, numbers, booleans, null, binary, lists, maps and sets`);
      continue;
    }
    const size = itemSize({ ...r, [OWNER_ATTRIBUTE]: { migration: migration.id, owner } });
    if (size > MAX_ITEM_BYTES) problems.push(`${at}: ${size} bytes, over DynamoDB's 400 KB item limit`);
  }
  return problems;
}

/** The first attribute (path) DynamoDB cannot store, with what it is; undefined when every value can be stored. */
function unstorableAttribute(value: unknown, path = ""): string | undefined {
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

/** The owner stamp of a derived record of `migrationId`, or undefined for any other item. */
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
