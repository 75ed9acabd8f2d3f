/**
 * Which items are a migration's source items, the one rule everywhere (backfill, dual-write,
 * verify, check, plan): the key selectors (pkPrefix, skPrefix, skPattern) and `match` all
 * hold, and the item carries no owner stamp (a derived record is never a source, even when it
 * looks like one). Also the fields `match` reads, which the backfill's race condition covers.
 */
import { keyOf } from "../dynamo/key-schema.ts";
import { type Migration, OWNER_ATTRIBUTE, isSourceKey, keysOf } from "./define-migration.ts";
import { SourceMatchError } from "./derive.ts";

/** Runs `source.match` on `item` (true without one); a throw becomes SourceMatchError naming the item. */
export function matchesSource(migration: Migration, item: Record<string, unknown>): boolean {
  const match = migration.source.match;
  if (!match) return true;
  try {
    return match(item) === true;
  } catch (err) {
    throw new SourceMatchError(migration.id, keyOf(keysOf(migration), item), err);
  }
}

/** A source item of this migration (derived records, even under the source prefix, are not). */
export function isSourceItem(migration: Migration, item: Record<string, unknown>): boolean {
  return isSourceKey(migration, item) && !(OWNER_ATTRIBUTE in item) && matchesSource(migration, item);
}

/**
 * The top-level attributes `source.match` reads on `item` (none without match). match is
 * pure, so while these hold the values read, it answers the same: the backfill's and
 * repair's conditions compare them with the schema's fields.
 */
export function matchReadFields(migration: Migration, item: Record<string, unknown>): string[] {
  const match = migration.source.match;
  if (!match) return [];
  const reads = new Set<string>();
  const view = new Proxy(item, {
    get(target, prop, receiver) {
      if (typeof prop === "string" && (Object.hasOwn(target, prop) || !(prop in target))) reads.add(prop);
      return Reflect.get(target, prop, receiver);
    },
    has(target, prop) {
      if (typeof prop === "string") reads.add(prop);
      return Reflect.has(target, prop);
    },
    ownKeys(target) {
      // Enumerating the item reads all of it.
      for (const k of Object.keys(target)) reads.add(k);
      return Reflect.ownKeys(target);
    },
  });
  try {
    match(view);
  } catch {
    // A throwing match is reported where the item is judged (matchesSource).
  }
  const keyNames = new Set(Object.keys(keyOf(keysOf(migration), item)));
  return [...reads].filter((f) => !keyNames.has(f) && f !== OWNER_ATTRIBUTE).sort();
}

/** A Scan filter that keeps the items whose keys have the source's prefixes (undefined: no prefix, every item is read). */
export interface SourceKeyFilter {
  FilterExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues: Record<string, string>;
}

/**
 * The cheapest exact part of the source selection DynamoDB can apply: `begins_with` on the
 * key prefixes. skPattern and match are checked in code on what comes back, so a filtered
 * page may hold no source item at all while the scan goes on (LastEvaluatedKey says so).
 */
export function sourceKeyFilter(migration: Migration): SourceKeyFilter | undefined {
  const keys = keysOf(migration);
  const clauses: string[] = [];
  const names: Record<string, string> = {};
  const values: Record<string, string> = {};
  if (migration.source.pkPrefix !== undefined) {
    names["#srcPk"] = keys.partitionKey.name;
    values[":srcPkPrefix"] = migration.source.pkPrefix;
    clauses.push("begins_with(#srcPk, :srcPkPrefix)");
  }
  if (migration.source.skPrefix !== undefined && keys.sortKey) {
    names["#srcSk"] = keys.sortKey.name;
    values[":srcSkPrefix"] = migration.source.skPrefix;
    clauses.push("begins_with(#srcSk, :srcSkPrefix)");
  }
  if (clauses.length === 0) return undefined;
  return { FilterExpression: clauses.join(" AND "), ExpressionAttributeNames: names, ExpressionAttributeValues: values };
}

/** The source selection in words, for messages: `sort key WF#..., sort key /^WF#[^#]+$/`. */
export function sourceText(migration: Pick<Migration, "source">): string {
  const { pkPrefix, skPrefix, skPattern, match } = migration.source;
  return [
    pkPrefix !== undefined && `partition key ${pkPrefix}...`,
    skPrefix !== undefined && `sort key ${skPrefix}...`,
    skPattern && `sort key ${skPattern}`,
    match && "match(item)",
  ]
    .filter(Boolean)
    .join(", ");
}
