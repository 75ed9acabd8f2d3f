/**
 * Per-shard checkpoints of the local event source mapping, kept in the control table at
 * `ControlSk.shard(streamArn, shardId)`: the last sequence number whose record is done
 * (delivered, filtered or dead-lettered) and whether a closed shard was read to its end.
 */
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { type ControlLocation, ControlSk, controlKey } from "../control/keys.ts";
import { controlRecords } from "../control/control-table.ts";

/** Where a shard's consumer stands. */
export interface ShardCheckpoint {
  streamArn: string;
  shardId: string;
  /** Last record done; the next read starts AFTER_SEQUENCE_NUMBER this. Absent: nothing done yet. */
  sequenceNumber?: string;
  /** A closed shard read to its end: never read again, its children may start. */
  finished: boolean;
  /** ISO time of the write. */
  updatedAt: string;
}

/** Storage of checkpoints; the mapping writes the newest done position at most once per `checkpointIntervalMs`, and on stop. */
export interface CheckpointStore {
  /** Every checkpoint of a stream, by shard id. */
  load(streamArn: string): Promise<Map<string, ShardCheckpoint>>;
  save(checkpoint: ShardCheckpoint): Promise<void>;
}

/** Checkpoints in the control table, under the migration's partition. */
export function controlTableCheckpoints(location: ControlLocation): CheckpointStore {
  return {
    async load(streamArn) {
      const found = new Map<string, ShardCheckpoint>();
      for await (const item of controlRecords(location, ControlSk.shardPrefix(streamArn))) {
        const checkpoint = fromItem(item);
        found.set(checkpoint.shardId, checkpoint);
      }
      return found;
    },
    async save(checkpoint) {
      await location.doc.send(
        new PutCommand({
          TableName: location.controlTable,
          Item: { ...controlKey(location.migrationId, ControlSk.shard(checkpoint.streamArn, checkpoint.shardId)), ...checkpoint },
        }),
      );
    },
  };
}

/** One shard's checkpoint, or undefined when the shard was never processed. */
export async function readShardCheckpoint(location: ControlLocation, streamArn: string, shardId: string): Promise<ShardCheckpoint | undefined> {
  const out = await location.doc.send(
    new GetCommand({
      TableName: location.controlTable,
      Key: controlKey(location.migrationId, ControlSk.shard(streamArn, shardId)),
      ConsistentRead: true,
    }),
  );
  return out.Item ? fromItem(out.Item) : undefined;
}

function fromItem(item: Record<string, unknown>): ShardCheckpoint {
  const checkpoint: ShardCheckpoint = {
    streamArn: String(item.streamArn),
    shardId: String(item.shardId),
    finished: item.finished === true,
    updatedAt: String(item.updatedAt),
  };
  if (typeof item.sequenceNumber === "string") checkpoint.sequenceNumber = item.sequenceNumber;
  return checkpoint;
}
