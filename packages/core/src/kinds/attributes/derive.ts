/**
 * Runs an `attributes` migration's derive on one source item the same way everywhere
 * (dual-write, backfill, verify, rollback, check): parse with the schema, derive, and validate
 * that what comes back is an object of the attributes the file owns, each storable (and, when
 * the index's key types are known, of the index key's type). Also what an item holds of those
 * attributes now, and whether that is what derive asks for.
 */
import {
  InvalidDerivedRecordsError,
  OWNER_ATTRIBUTE,
  type DeriveOptions,
  DeriveError,
  projectSource,
  sameRecord,
  unstorableAttribute,
} from "../../definition/derive.ts";
import { type ItemKey, type Migration, keysOf } from "../../definition/define-migration.ts";
import { MAX_ITEM_BYTES, itemSize } from "../../dynamo/item-size.ts";
import { type KeyAttribute, keyNames, keyOf, keyText, keyValueProblem } from "../../dynamo/key-schema.ts";

/** The attributes an item carries (or should carry) of those ferry owns; an absent name is not set. */
export type OwnedAttributes = Record<string, unknown>;

/**
 * `derive` of an attributes migration returned something that cannot be set on the item: not
 * an object, a name the file does not list, an unstorable value, a value of the wrong type for
 * the index key it feeds. A poison error like InvalidDerivedRecordsError (its subclass).
 */
export class InvalidDerivedAttributesError extends InvalidDerivedRecordsError {
  constructor(migrationId: string, key: ItemKey, problems: string[]) {
    super(migrationId, key, problems);
    this.message = `derive() of ${migrationId} returned invalid attributes for ${keyText(key)}:\n  - ${problems.join("\n  - ")}\nFix derive (or the file's \`attributes\`) and run \`ferry check\` again.`;
  }
}

/** The names ferry owns on the source items (the file's `attributes`). */
export function ownedNames(migration: Pick<Migration, "attributes">): string[] {
  return migration.attributes ?? [];
}

/** What `item` holds of the owned attributes (absent names left out). */
export function ownedOf(migration: Pick<Migration, "attributes">, item: Record<string, unknown>): OwnedAttributes {
  const out: OwnedAttributes = {};
  for (const name of ownedNames(migration)) if (item[name] !== undefined) out[name] = item[name];
  return out;
}

/** True when `item` holds exactly `desired` in the owned attributes (values compared as DynamoDB stores them). */
export function holdsOwned(migration: Pick<Migration, "attributes">, item: Record<string, unknown>, desired: OwnedAttributes): boolean {
  return sameRecord(ownedOf(migration, item), desired);
}

/** Options of deriveAttributes: check's (a view, a time budget) and the index key attributes whose types the values must have. */
export interface DeriveAttributesOptions extends DeriveOptions {
  indexKeys?: KeyAttribute[];
}

/** The owned attributes `item` should carry under `migration`, validated; throws the definition's errors (poison). */
export function deriveAttributes(migration: Migration, item: Record<string, unknown>, options: DeriveAttributesOptions = {}): OwnedAttributes {
  const source = projectSource(migration, item);
  const key = keyOf(keysOf(migration), source);
  let out: unknown;
  try {
    const view = options.view ? options.view(source) : source;
    out = options.run ? options.run(() => migration.derive(view as never)) : migration.derive(view as never);
  } catch (err) {
    throw new DeriveError(migration.id, key, err);
  }
  const problems = attributeProblems(migration, item, out, options.indexKeys);
  if (problems.length > 0) throw new InvalidDerivedAttributesError(migration.id, key, problems);
  const desired: OwnedAttributes = {};
  for (const [name, value] of Object.entries(out as Record<string, unknown>)) if (value !== undefined) desired[name] = value;
  return desired;
}

function attributeProblems(migration: Migration, item: Record<string, unknown>, out: unknown, indexKeys?: KeyAttribute[]): string[] {
  if (typeof out !== "object" || out === null || Array.isArray(out) || Object.getPrototypeOf(out) !== Object.prototype) {
    return [
      `expected an object of attributes (${ownedNames(migration).join(", ")}), got ${Array.isArray(out) ? "an array" : out === null ? "null" : typeof out}`,
    ];
  }
  const owned = new Set(ownedNames(migration));
  const problems: string[] = [];
  for (const [name, value] of Object.entries(out as Record<string, unknown>)) {
    if (!owned.has(name)) {
      problems.push(`attribute "${name}" is not one of the file's attributes (${[...owned].join(", ")}): list it in \`attributes\` or stop returning it`);
      continue;
    }
    if (value === undefined) continue;
    const unstorable = unstorableAttribute({ [name]: value });
    if (unstorable) {
      problems.push(`attribute ${unstorable}; DynamoDB stores strings, numbers, booleans, null, binary, lists, maps and sets`);
      continue;
    }
    const indexKey = indexKeys?.find((k) => k.name === name);
    const keyProblem = indexKey && keyValueProblem(indexKey, value);
    if (keyProblem) problems.push(`attribute "${name}" feeds the index ${migration.index}: ${keyProblem.replace(/^key attribute "[^"]*" /, "")}`);
  }
  if (problems.length === 0) {
    const size = itemSize({ ...item, ...(out as Record<string, unknown>) });
    if (size > MAX_ITEM_BYTES) problems.push(`the item would be ${size} bytes with these attributes, over DynamoDB's 400 KB item limit`);
  }
  return problems;
}

/**
 * Problems with the spec of an attributes migration (path + message): owned names that are
 * also the schema's fields (derive would read what it writes), key attributes, the remove
 * step's cleanup attributes, or ferry's own stamp. Key attributes are known once `keys` is
 * declared or bound to a table.
 */
export function attributesSpecIssues(migration: Migration): { path: string; message: string }[] {
  const issues: { path: string; message: string }[] = [];
  const names = ownedNames(migration);
  const seen = new Set<string>();
  const keys = migration.keys ? keyNames(migration.keys) : [];
  for (const [i, name] of names.entries()) {
    const at = `attributes.${i}`;
    if (seen.has(name)) issues.push({ path: at, message: `"${name}" is listed twice` });
    seen.add(name);
    if (name === OWNER_ATTRIBUTE) issues.push({ path: at, message: `"${OWNER_ATTRIBUTE}" is reserved for ferry's owner stamp` });
    if (migration.readFields.includes(name))
      issues.push({ path: at, message: `"${name}" is also a field of the schema: derive must not read an attribute it sets (rename one of them)` });
    if (keys.includes(name)) issues.push({ path: at, message: `"${name}" is a key attribute of the table: ferry cannot set it in place` });
    if (migration.cleanup?.removeAttributes?.includes(name))
      issues.push({ path: at, message: `"${name}" is also in cleanup.removeAttributes: the remove step would drop what ferry set` });
  }
  return issues;
}
