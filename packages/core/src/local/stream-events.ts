/**
 * What the local event source mapping reports while it runs (one event per invocation,
 * retry, bisection, dead letter and shard change) and the running totals derived from them.
 */
import type { DeadLetter } from "./stream-dead-letters.ts";

export type MappingEvent =
  | { type: "shard-started"; shardId: string; parentShardId?: string; from: "checkpoint" | "TRIM_HORIZON" | "LATEST" }
  | { type: "shard-finished"; shardId: string }
  | {
      type: "batch";
      shardId: string;
      /** Records in the invocation. */
      size: number;
      outcome: "ok" | "partial" | "error";
      /** Records of this invocation now done (all on "ok", those before the first failure on "partial"). */
      delivered: number;
      firstSequenceNumber: string;
      lastSequenceNumber: string;
      /** Now minus the newest record's ApproximateCreationDateTime (coarse: the engine may round it to the minute). */
      lagMs?: number;
      error?: string;
    }
  | { type: "filtered"; shardId: string; count: number }
  | { type: "bisect"; shardId: string; size: number; halves: [number, number] }
  | { type: "retry"; shardId: string; sequenceNumber: string; attempt: number; delayMs: number; reason: string }
  | { type: "dead-letter"; deadLetter: DeadLetter }
  | { type: "read-error"; shardId: string; error: string; delayMs: number }
  | { type: "trimmed"; shardId: string; sequenceNumber: string; message: string };

/** Running totals of a mapping. */
export interface MappingStats {
  /** Handler invocations. */
  invocations: number;
  /** Invocations that threw or reported failures. */
  failedInvocations: number;
  /** Records done by a successful invocation (delivered at least once; retried ones count once). */
  delivered: number;
  /** Records the filter criteria kept from the handler. */
  filtered: number;
  deadLettered: number;
  retries: number;
  bisections: number;
  shardsStarted: number;
  shardsFinished: number;
  /** Lag after the latest invocation, in ms (see the batch event). */
  lagMs?: number;
}

export function emptyStats(): MappingStats {
  return {
    invocations: 0,
    failedInvocations: 0,
    delivered: 0,
    filtered: 0,
    deadLettered: 0,
    retries: 0,
    bisections: 0,
    shardsStarted: 0,
    shardsFinished: 0,
  };
}

/** Adds one event to the totals. */
export function countEvent(stats: MappingStats, event: MappingEvent): void {
  switch (event.type) {
    case "batch":
      stats.invocations++;
      if (event.outcome !== "ok") stats.failedInvocations++;
      stats.delivered += event.delivered;
      if (event.lagMs !== undefined) stats.lagMs = event.lagMs;
      break;
    case "filtered":
      stats.filtered += event.count;
      break;
    case "dead-letter":
      stats.deadLettered++;
      break;
    case "retry":
      stats.retries++;
      break;
    case "bisect":
      stats.bisections++;
      break;
    case "shard-started":
      stats.shardsStarted++;
      break;
    case "shard-finished":
      stats.shardsFinished++;
      break;
    default:
      break;
  }
}
