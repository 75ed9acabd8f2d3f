/**
 * Shard lineage: which shards may be read now. A child shard holds the records written
 * after its parent closed, so it starts only once the parent was read to its end, or once
 * the parent is no longer listed (trimmed after the 24 h retention).
 */
import type { StreamShard } from "./shards.ts";

/** The listed shards that are neither started nor finished and whose parent allows them to start. */
export function readyShards(listed: readonly StreamShard[], finished: ReadonlySet<string>, started: ReadonlySet<string>): StreamShard[] {
  const listedIds = new Set(listed.map((s) => s.shardId));
  return listed.filter((shard) => {
    if (started.has(shard.shardId) || finished.has(shard.shardId)) return false;
    const parent = shard.parentShardId;
    return !parent || finished.has(parent) || !listedIds.has(parent);
  });
}

/** Shards waiting on an unfinished parent, by shard id (for progress output). */
export function blockedShards(listed: readonly StreamShard[], finished: ReadonlySet<string>): Map<string, string> {
  const listedIds = new Set(listed.map((s) => s.shardId));
  const blocked = new Map<string, string>();
  for (const shard of listed) {
    const parent = shard.parentShardId;
    if (!finished.has(shard.shardId) && parent && listedIds.has(parent) && !finished.has(parent)) blocked.set(shard.shardId, parent);
  }
  return blocked;
}
