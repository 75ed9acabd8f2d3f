/**
 * The key of a migration's liveness ping: an item ferry writes to the data table so that the
 * change travels the whole path a real change does (stream, mapping filter, dual-write handler)
 * and comes back as a heartbeat, as gh-ost's changelog heartbeat comes back through the binlog.
 * Its key carries the migration's key prefixes (pkPrefix, skPrefix) so the mapping's filter
 * lets it through, and otherwise names ferry and the migration (on the example table:
 * PK `ferry#ping`, SK `WF#ferry#ping#<id>`). Its owner stamp names no migration, so it is
 * never a source item nor anyone's derived record (backfill, verify, rollback and the API all
 * skip it). Numeric keys get a fixed negative value derived from the migration id.
 */
import { createHash } from "node:crypto";
import { type ItemKey, type Migration, OWNER_ATTRIBUTE, keysOf } from "../definition/define-migration.ts";
import { type KeyAttribute, keyId } from "../dynamo/key-schema.ts";

/** What every ping key is made of (its partition key on a string-keyed table). */
export const PING_PK = "ferry#ping";

type PingMigration = Pick<Migration, "id" | "source" | "keys">;

/** A value of `attribute`'s type that reads as `text` (prefixed when the source selects on a prefix). */
function pingValue(attribute: KeyAttribute, text: string, prefix = ""): string | number | Uint8Array {
  if (attribute.type === "S") return `${prefix}${text}`;
  if (attribute.type === "B") return new Uint8Array(Buffer.from(text));
  // N: -(2^52 + 48 bits of the id's hash), far from any counter or timestamp an application uses.
  return -(2 ** 52 + Number.parseInt(createHash("sha256").update(text).digest("hex").slice(0, 12), 16));
}

/** The ping key of `migration`, under its table's key names. */
export function pingKey(migration: PingMigration): ItemKey {
  const keys = keysOf(migration);
  const own = `${PING_PK}#${migration.id}`;
  if (!keys.sortKey) return { [keys.partitionKey.name]: pingValue(keys.partitionKey, own, migration.source.pkPrefix) };
  return {
    [keys.partitionKey.name]: pingValue(keys.partitionKey, PING_PK, migration.source.pkPrefix),
    [keys.sortKey.name]: pingValue(keys.sortKey, own, migration.source.skPrefix),
  };
}

/** The ping item with `nonce`: stamped, so every rule that skips derived records skips it too. */
export function pingItem(migration: PingMigration, nonce: string, at: number): Record<string, unknown> {
  return { ...pingKey(migration), nonce, at, [OWNER_ATTRIBUTE]: { migration: PING_PK, ping: migration.id } };
}

/** True for the key of `migration`'s own ping (another migration's ping is just ignored). */
export function isPingKey(migration: PingMigration, key: Record<string, unknown>): boolean {
  const keys = keysOf(migration);
  return keyId(keys, key) === keyId(keys, pingKey(migration));
}
