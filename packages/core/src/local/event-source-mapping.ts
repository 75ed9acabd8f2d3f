/**
 * The local stand-in for Lambda's DynamoDB stream event source mapping: it reads every
 * shard of a table's stream (parents before children, new shards as they appear), hands
 * batches to a handler in the exact Lambda event shape, and applies the mapping settings
 * (dualwrite/stream-settings.ts) as Lambda would: filter criteria, partial batch failures,
 * bisection, retries with backoff, record age, dead letters, per-shard checkpoints.
 *
 * Delivery is at least once: after a clean stop the next run resumes exactly after the last
 * record done; after a crash the records done since the last stored checkpoint (at most
 * `checkpointIntervalMs` of them, plus the unfinished batch) are delivered again. A batch never spans two GetRecords pages (Limit = batchSize), so with
 * filtering a batch can be smaller than batchSize where Lambda might fill it from the next read. Records the filter criteria reject are counted, never delivered
 * (Lambda drops them the same way); the dual-write filter matches on keys only, so
 * REMOVE records of source items still arrive.
 */
import type { BackoffOptions } from "../util/backoff.ts";
import type { StreamSettings } from "../dualwrite/stream-settings.ts";
import { pause } from "./stream-batch.ts";
import type { CheckpointStore, ShardCheckpoint } from "./stream-checkpoints.ts";
import type { DeadLetterStore } from "./stream-dead-letters.ts";
import { type StreamHandler, localContext } from "../streams/lambda-event.ts";
import { type MappingEvent, type MappingStats, countEvent, emptyStats } from "./stream-events.ts";
import { compileFilterCriteria } from "./stream-filter.ts";
import { readyShards } from "../streams/lineage.ts";
import { readShard } from "./stream-shard-reader.ts";
import { type StreamShard, type StreamsClient, describeStreamShards } from "../streams/shards.ts";

export interface EventSourceMappingOptions {
  streamsClient: StreamsClient;
  streamArn: string;
  handler: StreamHandler;
  settings: StreamSettings;
  checkpoints: CheckpointStore;
  deadLetters: DeadLetterStore;
  /** Stops the mapping: the in-flight invocation finishes and is checkpointed, nothing new starts. */
  signal: AbortSignal;
  /** Wait after an empty GetRecords on an open shard (Lambda polls about 4 times a second). */
  pollIntervalMs?: number;
  /**
   * Least time between two checkpoint writes of a shard. Checkpoints are written off the
   * delivery path and flushed on stop, so a clean stop resumes exactly after the last record
   * done; after a crash at most this much is delivered again. 0: after every batch.
   */
  checkpointIntervalMs?: number;
  /** How often DescribeStream is called again to find new shards. */
  describeIntervalMs?: number;
  /** Delays between retries of a failed record (exponential, full jitter). */
  retryBackoff?: BackoffOptions;
  /** Delays after failed stream reads. */
  readBackoff?: BackoffOptions;
  /** Region reported in records that carry none, and in the Lambda context. */
  region?: string;
  functionName?: string;
  /** Reported by `context.getRemainingTimeInMillis()`; not enforced. */
  functionTimeoutMs?: number;
  onEvent?: (event: MappingEvent) => void;
  now?: () => number;
  random?: () => number;
}

export const DEFAULT_EVENT_SOURCE_MAPPING_OPTIONS = {
  pollIntervalMs: 250,
  checkpointIntervalMs: 1_000,
  describeIntervalMs: 10_000,
  retryBackoff: { baseMs: 200, maxMs: 10_000, maxAttempts: Number.MAX_SAFE_INTEGER } satisfies BackoffOptions,
  readBackoff: { baseMs: 100, maxMs: 5_000, maxAttempts: Number.MAX_SAFE_INTEGER } satisfies BackoffOptions,
  region: "us-east-1",
  functionName: "ferry-dual-write-local",
  functionTimeoutMs: 60_000,
} as const;

/** A running mapping. */
export interface EventSourceMapping {
  /** Resolves with the totals once the signal stopped every shard; rejects on a failure the mapping cannot retry (e.g. checkpoint writes). */
  readonly done: Promise<MappingStats>;
  /** Totals so far. */
  stats(): MappingStats;
  /** Shards being read now. */
  activeShards(): string[];
}

/** Starts reading the stream; stop it with the signal and await `done`. */
export function startEventSourceMapping(options: EventSourceMappingOptions): EventSourceMapping {
  const defaults = DEFAULT_EVENT_SOURCE_MAPPING_OPTIONS;
  const filter = compileFilterCriteria(options.settings.filterCriteria);
  const stats = emptyStats();
  const emit = (event: MappingEvent) => {
    countEvent(stats, event);
    options.onEvent?.(event);
  };
  // A fatal error in one shard stops the others too.
  const internal = new AbortController();
  const signal = AbortSignal.any([options.signal, internal.signal]);
  const region = options.region ?? defaults.region;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const functionName = options.functionName ?? defaults.functionName;
  const timeoutMs = options.functionTimeoutMs ?? defaults.functionTimeoutMs;
  const workers = new Map<string, Promise<void>>();
  const finished = new Set<string>();
  let fatal: unknown;
  // A finished shard wakes the discovery loop at once, so its children start without waiting.
  let wakeRequested = false;
  let wakeWaiter: (() => void) | undefined;
  const wake = () => {
    wakeRequested = true;
    wakeWaiter?.();
  };

  const startShard = (shard: StreamShard, initialPosition: "TRIM_HORIZON" | "LATEST", checkpoint: ShardCheckpoint | undefined) => {
    emit({
      type: "shard-started",
      shardId: shard.shardId,
      ...(shard.parentShardId ? { parentShardId: shard.parentShardId } : {}),
      from: checkpoint?.sequenceNumber ? "checkpoint" : initialPosition,
    });
    const worker = readShard({
      client: options.streamsClient,
      shard,
      checkpoint,
      initialPosition,
      checkpoints: options.checkpoints,
      region,
      pollIntervalMs: options.pollIntervalMs ?? defaults.pollIntervalMs,
      checkpointIntervalMs: options.checkpointIntervalMs ?? defaults.checkpointIntervalMs,
      readBackoff: options.readBackoff ?? defaults.readBackoff,
      delivery: {
        streamArn: options.streamArn,
        settings: options.settings,
        handler: options.handler,
        filter,
        deadLetters: options.deadLetters,
        signal,
        retryBackoff: options.retryBackoff ?? defaults.retryBackoff,
        now,
        random,
        lambdaContext: () => localContext(functionName, region, timeoutMs),
        emit,
      },
    }).then(
      (result) => {
        if (result === "finished") {
          finished.add(shard.shardId);
          emit({ type: "shard-finished", shardId: shard.shardId });
        }
        workers.delete(shard.shardId);
        wake();
      },
      (err: unknown) => {
        fatal ??= err;
        workers.delete(shard.shardId);
        internal.abort(err);
      },
    );
    workers.set(shard.shardId, worker);
  };

  const run = async (): Promise<MappingStats> => {
    const stored = await options.checkpoints.load(options.streamArn);
    for (const [shardId, checkpoint] of stored) if (checkpoint.finished) finished.add(shardId);
    let first = true;
    let failures = 0;
    while (!signal.aborted) {
      wakeRequested = false;
      let listed: StreamShard[];
      try {
        listed = (await describeStreamShards(options.streamsClient, options.streamArn, signal)).shards;
        failures = 0;
      } catch (err) {
        if (signal.aborted) break;
        failures++;
        const delayMs = Math.min(options.describeIntervalMs ?? defaults.describeIntervalMs, 1_000 * failures);
        emit({ type: "read-error", shardId: "", error: `DescribeStream: ${(err as Error).message}`, delayMs });
        await pause(delayMs, signal);
        continue;
      }
      for (const shard of readyShards(listed, finished, new Set(workers.keys()))) {
        // LATEST applies to the shards open at start; shards found later hold only new records.
        const position = first && !shard.endingSequenceNumber ? options.settings.startingPosition : "TRIM_HORIZON";
        startShard(shard, position, stored.get(shard.shardId));
      }
      first = false;
      if (!wakeRequested) {
        await new Promise<void>((resolve) => {
          wakeWaiter = resolve;
          void pause(options.describeIntervalMs ?? defaults.describeIntervalMs, signal).then(() => resolve());
        });
      }
      wakeWaiter = undefined;
    }
    while (workers.size > 0) await Promise.all([...workers.values()]);
    if (fatal !== undefined) throw fatal;
    return { ...stats };
  };

  const done = run();
  // Callers that never await `done` must not see an unhandled rejection crash the process.
  done.catch(() => undefined);
  return { done, stats: () => ({ ...stats }), activeShards: () => [...workers.keys()] };
}
