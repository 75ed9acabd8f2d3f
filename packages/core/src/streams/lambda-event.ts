/**
 * Turns DynamoDB Streams API records into the exact event Lambda hands a function for a
 * DynamoDB stream (seconds for ApproximateCreationDateTime, base64 for binary values,
 * eventSourceARN on each record), and makes the Lambda context the local mapping passes.
 */
import { randomUUID } from "node:crypto";
import type { _Record, AttributeValue as SdkAttributeValue } from "@aws-sdk/client-dynamodb-streams";
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent, AttributeValue } from "aws-lambda";

/**
 * What the local mapping invokes: a Lambda handler for DynamoDB stream events, e.g. the
 * dual-write handler. Return `batchItemFailures` (ReportBatchItemFailures) or throw.
 */
export type StreamHandler = (
  event: DynamoDBStreamEvent,
  context: Context,
  // biome-ignore lint/suspicious/noConfusingVoidType: like aws-lambda's Handler, a handler may return nothing (Promise<void>).
) => Promise<DynamoDBBatchResponse | void | undefined | null>;

/** The Lambda record for one Streams API record of `streamArn`. */
export function toLambdaRecord(record: _Record, streamArn: string, fallbackRegion: string): DynamoDBRecord {
  const sdk = record.dynamodb ?? {};
  const dynamodb: NonNullable<DynamoDBRecord["dynamodb"]> = {};
  if (sdk.ApproximateCreationDateTime) dynamodb.ApproximateCreationDateTime = sdk.ApproximateCreationDateTime.getTime() / 1000;
  if (sdk.Keys) dynamodb.Keys = toLambdaImage(sdk.Keys);
  if (sdk.NewImage) dynamodb.NewImage = toLambdaImage(sdk.NewImage);
  if (sdk.OldImage) dynamodb.OldImage = toLambdaImage(sdk.OldImage);
  if (sdk.SequenceNumber !== undefined) dynamodb.SequenceNumber = sdk.SequenceNumber;
  if (sdk.SizeBytes !== undefined) dynamodb.SizeBytes = sdk.SizeBytes;
  if (sdk.StreamViewType) dynamodb.StreamViewType = sdk.StreamViewType;
  const out: DynamoDBRecord = {
    eventID: record.eventID,
    eventName: record.eventName,
    eventVersion: record.eventVersion ?? "1.1",
    eventSource: record.eventSource ?? "aws:dynamodb",
    awsRegion: record.awsRegion ?? fallbackRegion,
    dynamodb,
    eventSourceARN: streamArn,
  };
  // Present on TTL deletions only, as on AWS.
  if (record.userIdentity) out.userIdentity = { ...record.userIdentity };
  return out;
}

function toLambdaImage(image: Record<string, SdkAttributeValue>): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const [name, value] of Object.entries(image)) out[name] = toLambdaValue(value);
  return out;
}

/** The JSON form Lambda delivers: the same as the wire format (binary as base64 strings). */
function toLambdaValue(value: SdkAttributeValue): AttributeValue {
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString("base64") };
  if (value.BS !== undefined) return { BS: value.BS.map((b) => Buffer.from(b).toString("base64")) };
  if (value.L !== undefined) return { L: value.L.map(toLambdaValue) };
  if (value.M !== undefined) return { M: toLambdaImage(value.M) };
  return value as AttributeValue;
}

/** Sequence number of a Lambda record (always present on stream records). */
export function sequenceOf(record: DynamoDBRecord): string {
  return record.dynamodb?.SequenceNumber ?? "";
}

/** Sequence numbers are decimal strings of varying length: compare them as numbers. */
export function compareSequence(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** A Lambda context for one local invocation; the timeout is reported, not enforced. */
export function localContext(functionName: string, region: string, timeoutMs: number): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${region}:000000000000:function:${functionName}`,
    memoryLimitInMB: "1024",
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `local/${process.pid}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
