/**
 * Shard discovery for the local mapping: the streams client the mapping needs, and
 * DescribeStream followed page by page (ExclusiveStartShardId) to the full shard list.
 */
import {
  type DescribeStreamCommandOutput,
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  type GetRecordsCommand,
  type GetRecordsCommandOutput,
  type GetShardIteratorCommand,
  type GetShardIteratorCommandOutput,
} from "@aws-sdk/client-dynamodb-streams";
import type { DynamoClients } from "../aws/dynamodb.ts";
import { FerryError } from "../errors.ts";

/**
 * The three calls the mapping makes. The SDK's DynamoDBStreamsClient is one; tests of shard
 * lineage pass a scripted one, since DynamoDB Local never splits its single shard.
 */
export interface StreamsClient {
  send(command: DescribeStreamCommand, options?: { abortSignal?: AbortSignal }): Promise<DescribeStreamCommandOutput>;
  send(command: GetShardIteratorCommand, options?: { abortSignal?: AbortSignal }): Promise<GetShardIteratorCommandOutput>;
  send(command: GetRecordsCommand, options?: { abortSignal?: AbortSignal }): Promise<GetRecordsCommandOutput>;
}

/** A streams client on the same endpoint, region and credentials as `clients` (DynamoDB Local keeps tables per credentials). */
export function createStreamsClient(clients: DynamoClients): DynamoDBStreamsClient {
  return new DynamoDBStreamsClient({
    region: clients.region,
    ...(clients.endpoint ? { endpoint: clients.endpoint } : {}),
    credentials: clients.raw.config.credentials,
  });
}

/** One shard as DescribeStream lists it. */
export interface StreamShard {
  shardId: string;
  parentShardId?: string;
  startingSequenceNumber?: string;
  /** Set once the shard is closed: it takes no more records. */
  endingSequenceNumber?: string;
}

export interface StreamDescriptionSummary {
  streamArn: string;
  status?: string;
  viewType?: string;
  shards: StreamShard[];
}

/** DescribeStream kept returning the same page: the service (or a fake) is broken. */
export class ShardListingLoopError extends FerryError {
  constructor(
    readonly streamArn: string,
    readonly shardId: string,
  ) {
    super(`DescribeStream for ${streamArn} returned LastEvaluatedShardId ${shardId} twice; retry, and report it if it persists.`);
  }
}

/** Every shard of the stream, following LastEvaluatedShardId to the end. */
export async function describeStreamShards(client: StreamsClient, streamArn: string, signal?: AbortSignal): Promise<StreamDescriptionSummary> {
  const summary: StreamDescriptionSummary = { streamArn, shards: [] };
  const seen = new Set<string>();
  let start: string | undefined;
  do {
    const out = await client.send(
      new DescribeStreamCommand({ StreamArn: streamArn, ...(start ? { ExclusiveStartShardId: start } : {}) }),
      signal ? { abortSignal: signal } : undefined,
    );
    const description = out.StreamDescription;
    summary.status = description?.StreamStatus ?? summary.status;
    summary.viewType = description?.StreamViewType ?? summary.viewType;
    for (const shard of description?.Shards ?? []) {
      if (!shard.ShardId || seen.has(shard.ShardId)) continue;
      seen.add(shard.ShardId);
      const entry: StreamShard = { shardId: shard.ShardId };
      if (shard.ParentShardId) entry.parentShardId = shard.ParentShardId;
      if (shard.SequenceNumberRange?.StartingSequenceNumber) entry.startingSequenceNumber = shard.SequenceNumberRange.StartingSequenceNumber;
      if (shard.SequenceNumberRange?.EndingSequenceNumber) entry.endingSequenceNumber = shard.SequenceNumberRange.EndingSequenceNumber;
      summary.shards.push(entry);
    }
    const next = description?.LastEvaluatedShardId;
    if (next !== undefined && next === start) throw new ShardListingLoopError(streamArn, next);
    start = next;
  } while (start);
  return summary;
}
