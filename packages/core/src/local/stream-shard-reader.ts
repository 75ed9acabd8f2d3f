/**
 * Reads one shard for the local mapping: an iterator after the checkpoint (else at the
 * starting position), GetRecords with Limit = batchSize, each page delivered to the end
 * before the next read, polling when the shard is quiet, and a "finished" checkpoint once
 * a closed shard has no next iterator. Checkpoints are written off the delivery path
 * (local/checkpoint-writer.ts) and flushed before the reader returns.
 */
import { GetRecordsCommand, GetShardIteratorCommand, type ShardIteratorType } from "@aws-sdk/client-dynamodb-streams";
import { type BackoffOptions, backoffDelay } from "../util/backoff.ts";
import { type DeliveryContext, deliverPage, pause } from "./stream-batch.ts";
import { CheckpointWriter } from "./checkpoint-writer.ts";
import type { CheckpointStore, ShardCheckpoint } from "./stream-checkpoints.ts";
import { sequenceOf, toLambdaRecord } from "../streams/lambda-event.ts";
import type { StreamShard, StreamsClient } from "../streams/shards.ts";

/** DynamoDB Streams returns at most 1,000 records per GetRecords. */
export const MAX_GET_RECORDS_LIMIT = 1_000;

export interface ShardReaderOptions {
  client: StreamsClient;
  shard: StreamShard;
  /** The shard's stored checkpoint, if any. */
  checkpoint: ShardCheckpoint | undefined;
  /** Where to start without a checkpoint. */
  initialPosition: "TRIM_HORIZON" | "LATEST";
  checkpoints: CheckpointStore;
  /** Delivery settings shared by every shard (shard id, checkpoint and attempts are filled in here). */
  delivery: Omit<DeliveryContext, "shardId" | "checkpoint" | "attempts">;
  region: string;
  pollIntervalMs: number;
  /** Least time between two checkpoint writes of the shard (0: after every batch). */
  checkpointIntervalMs: number;
  /** Backoff after a failed GetShardIterator/GetRecords call. */
  readBackoff: BackoffOptions;
}

/** Reads the shard until it is finished (closed and read to the end) or the signal stops it. */
export async function readShard(options: ShardReaderOptions): Promise<"finished" | "stopped"> {
  const { shard, delivery } = options;
  const { streamArn } = delivery;
  const state: ReadState = { position: options.checkpoint?.sequenceNumber };
  const save = (sequenceNumber: string | undefined, finished: boolean) => {
    const checkpoint: ShardCheckpoint = { streamArn, shardId: shard.shardId, finished, updatedAt: new Date(delivery.now()).toISOString() };
    if (sequenceNumber !== undefined) checkpoint.sequenceNumber = sequenceNumber;
    return options.checkpoints.save(checkpoint);
  };
  const writer = new CheckpointWriter((sequenceNumber) => save(sequenceNumber, false), options.checkpointIntervalMs);
  const ctx: DeliveryContext = {
    ...delivery,
    shardId: shard.shardId,
    attempts: new Map(),
    checkpoint: async (sequenceNumber) => {
      writer.mark(sequenceNumber);
      state.position = sequenceNumber;
    },
  };
  const outcome = await readPages(options, ctx, state);
  // The newest position is stored before the reader returns, and before "finished" (which must be the last write).
  await writer.flush();
  if (outcome === "stopped") return "stopped";
  await save(state.position, true);
  return "finished";
}

interface ReadState {
  /** Last record done (in memory; the stored checkpoint may trail it by one interval). */
  position: string | undefined;
}

async function readPages(options: ShardReaderOptions, ctx: DeliveryContext, state: ReadState): Promise<"finished" | "stopped"> {
  const { client, shard, delivery } = options;
  const { streamArn, signal } = delivery;
  const limit = Math.min(MAX_GET_RECORDS_LIMIT, Math.max(1, delivery.settings.batchSize));
  let iterator: string | undefined;
  let failures = 0;

  while (!signal.aborted) {
    try {
      iterator ??= await newIterator(options, state.position);
      if (iterator === undefined) break;
      const out = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }), { abortSignal: signal });
      failures = 0;
      const records = (out.Records ?? []).map((r) => toLambdaRecord(r, streamArn, options.region));
      if (records.length > 0) {
        if (!(await deliverPage(records, ctx))) return "stopped";
        const last = records[records.length - 1];
        if (last) state.position = sequenceOf(last);
      }
      iterator = out.NextShardIterator ?? undefined;
      if (iterator === undefined) break;
      if (records.length === 0 && !(await pause(options.pollIntervalMs, signal))) return "stopped";
    } catch (err) {
      if (signal.aborted) return "stopped";
      const name = (err as { name?: string }).name ?? "Error";
      if (name === "TrimmedDataAccessException" && state.position !== undefined) {
        // The checkpoint is older than the retention: what lies between is gone; say so loudly.
        delivery.emit({ type: "trimmed", shardId: shard.shardId, sequenceNumber: state.position, message: String((err as Error).message) });
        state.position = undefined;
        iterator = undefined;
        continue;
      }
      if (name === "ResourceNotFoundException") {
        delivery.emit({ type: "trimmed", shardId: shard.shardId, sequenceNumber: state.position ?? "", message: "the shard no longer exists" });
        break;
      }
      failures++;
      const delayMs = backoffDelay(failures, options.readBackoff, delivery.random);
      delivery.emit({ type: "read-error", shardId: shard.shardId, error: `${name}: ${(err as Error).message}`, delayMs });
      // Expired or not, a fresh iterator from the checkpoint is always correct after a failed read.
      iterator = undefined;
      if (!(await pause(delayMs, signal))) return "stopped";
    }
  }
  return signal.aborted ? "stopped" : "finished";
}

async function newIterator(options: ShardReaderOptions, position: string | undefined): Promise<string | undefined> {
  const type: ShardIteratorType = position !== undefined ? "AFTER_SEQUENCE_NUMBER" : options.initialPosition;
  const out = await options.client.send(
    new GetShardIteratorCommand({
      StreamArn: options.delivery.streamArn,
      ShardId: options.shard.shardId,
      ShardIteratorType: type,
      ...(position !== undefined ? { SequenceNumber: position } : {}),
    }),
    { abortSignal: options.delivery.signal },
  );
  return out.ShardIterator ?? undefined;
}
