/**
 * The key of a migration's liveness ping: an item ferry writes to the data table so that the
 * change travels the whole path a real change does (stream, mapping filter, dual-write handler)
 * and comes back as a heartbeat, as gh-ost's changelog heartbeat comes back through the binlog.
 * Its SK starts with the migration's source prefix so the mapping's filter lets it through; its
 * PK is no tenant's, and its owner stamp names no migration, so it is never a source item nor
 * anyone's derived record (backfill, verify, rollback and the API all skip it).
 */
import type { ItemKey, Migration } from "../definition/define-migration.ts";
import { OWNER_ATTRIBUTE } from "../definition/derive.ts";

/** Partition of every ping item. */
export const PING_PK = "ferry#ping";

/** The ping key of `migration`. */
export function pingKey(migration: Pick<Migration, "id" | "source">): ItemKey {
  return { PK: PING_PK, SK: `${migration.source.skPrefix}ferry#ping#${migration.id}` };
}

/** The ping item with `nonce`: stamped, so every rule that skips derived records skips it too. */
export function pingItem(migration: Pick<Migration, "id" | "source">, nonce: string, at: number): Record<string, unknown> {
  return { ...pingKey(migration), nonce, at, [OWNER_ATTRIBUTE]: { migration: PING_PK, ping: migration.id } };
}

/** True for the key of `migration`'s own ping (another migration's ping is just ignored). */
export function isPingKey(migration: Pick<Migration, "id" | "source">, key: { PK?: unknown; SK?: unknown }): boolean {
  const own = pingKey(migration);
  return key.PK === own.PK && key.SK === own.SK;
}
