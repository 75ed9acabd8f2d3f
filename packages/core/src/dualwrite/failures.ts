/**
 * Failure records of the dual-write: one control-table item per failing stream record
 * (`ControlSk.failure(seq)`) with the reason, the source key and how often it failed, so
 * whoever dead-letters the record after the configured retries (Lambda's on-failure
 * destination on AWS, the local mapping locally) can say why.
 */
import { GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { type ControlLocation, ControlSk, controlKey, withoutControlKey } from "../control/keys.ts";
import { controlRecords } from "../control/control-table.ts";
import { isPoisonError } from "./plan.ts";

/** Sort-key prefix of failure records (ControlSk.failure pads the sequence number after it). */

/**
 * `poison`: the record's content cannot be applied (schema, derive, invalid records, missing
 * image); retrying it cannot help. `transient`: anything else (throttling, network, DynamoDB
 * errors), which a retry may get past.
 */
export type FailureKind = "poison" | "transient";

/** Longest reason stored: a long list of derive problems must not push the record past 400 KB. */
export const MAX_REASON_CHARS = 4_000;

/** What the handler knows about one failing stream record. */
export interface StreamRecordFailure {
  sequenceNumber: string;
  eventID?: string;
  eventName?: string;
  /** The item's key as the stream carried it, e.g. `{ PK: "tenant-1", SK: "WF#42" }`. */
  sourceKey: Record<string, unknown>;
  /** ApproximateCreationDateTime of the record, in ms since the epoch. */
  createdAt?: number;
  error: unknown;
}

/** A failure record as stored in the control table. */
export interface FailureRecord {
  migrationId: string;
  consumer: string;
  sequenceNumber: string;
  eventID?: string;
  eventName?: string;
  sourceKey: Record<string, unknown>;
  createdAt?: number;
  kind: FailureKind;
  /** Error class name, e.g. SourceSchemaError. */
  errorName: string;
  /** The error's message: what is wrong and what to do. */
  reason: string;
  /** Failed attempts of this sequence number so far. */
  attempts: number;
  /** First and latest failure, ms since the epoch. */
  firstAt: number;
  lastAt: number;
}

export function failureKind(err: unknown): FailureKind {
  return isPoisonError(err) ? "poison" : "transient";
}

/** Records (or counts again) a failure of `failure.sequenceNumber`; returns the stored record. */
export async function recordFailure(location: ControlLocation, consumer: string, failure: StreamRecordFailure, now: number): Promise<FailureRecord> {
  const error = failure.error;
  const fields: Record<string, unknown> = {
    migrationId: location.migrationId,
    consumer,
    sequenceNumber: failure.sequenceNumber,
    eventID: failure.eventID,
    eventName: failure.eventName,
    sourceKey: failure.sourceKey,
    createdAt: failure.createdAt,
    kind: failureKind(error),
    errorName: error instanceof Error ? error.name : typeof error,
    reason: truncate(error instanceof Error ? error.message : String(error)),
    lastAt: now,
  };
  const sets: string[] = [];
  const names: Record<string, string> = { "#firstAt": "firstAt", "#attempts": "attempts" };
  const values: Record<string, unknown> = { ":now": now, ":one": 1 };
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    // Every name goes through a placeholder: several (e.g. kind, reason) may be reserved words.
    sets.push(`#${name} = :${name}`);
    names[`#${name}`] = name;
    values[`:${name}`] = value;
  }
  const out = await location.doc.send(
    new UpdateCommand({
      TableName: location.controlTable,
      Key: controlKey(location.migrationId, ControlSk.failure(failure.sequenceNumber)),
      UpdateExpression: `SET ${sets.join(", ")}, #firstAt = if_not_exists(#firstAt, :now) ADD #attempts :one`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ReturnValues: "ALL_NEW",
    }),
  );
  return withoutKey(out.Attributes ?? {});
}

/** The failure record of one sequence number, if the handler wrote one. */
export async function readFailure(location: ControlLocation, sequenceNumber: string): Promise<FailureRecord | undefined> {
  const out = await location.doc.send(
    new GetCommand({
      TableName: location.controlTable,
      Key: controlKey(location.migrationId, ControlSk.failure(sequenceNumber)),
      ConsistentRead: true,
    }),
  );
  return out.Item ? withoutKey(out.Item) : undefined;
}

/** Every failure record of a migration, in sequence-number order. */
export async function listFailures(location: ControlLocation): Promise<FailureRecord[]> {
  const records: FailureRecord[] = [];
  for await (const item of controlRecords(location, ControlSk.failurePrefix)) records.push(withoutKey(item));
  return records;
}

function withoutKey(item: Record<string, unknown>): FailureRecord {
  const rest = withoutControlKey(item);
  return rest as unknown as FailureRecord;
}

function truncate(text: string): string {
  return text.length <= MAX_REASON_CHARS ? text : `${text.slice(0, MAX_REASON_CHARS - 1)}…`;
}
