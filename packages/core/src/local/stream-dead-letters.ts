/**
 * Dead letters of the local event source mapping: records the handler could not apply
 * within the retry/age limits, kept in the control table at `ControlSk.deadLetter(seq)` with
 * the source key, the reason and the attempts, so nothing the stream carried is lost
 * silently. Images are not stored (two 400 KB images would not fit one item): a replay
 * re-reads the item by its key.
 */
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { DynamoDBRecord } from "aws-lambda";
import { type ControlLocation, ControlSk, controlKey, withoutControlKey } from "../control/keys.ts";
import { controlRecords } from "../control/control-table.ts";

/** Why a record was given up. */
export type DeadLetterCause = "retries-exhausted" | "record-expired";

/** One record the mapping gave up on. */
export interface DeadLetter {
  streamArn: string;
  shardId: string;
  sequenceNumber: string;
  eventID?: string;
  eventName?: string;
  /** The item's key (plain values), e.g. `{ PK: "tenant-1", SK: "WF#42" }`. */
  keys: Record<string, unknown>;
  /** ApproximateCreationDateTime of the record, in seconds. */
  createdAt?: number;
  cause: DeadLetterCause;
  /** The handler's failure record reason when it wrote one, else the error or limit that stopped retries. */
  reason: string;
  /** Failed invocations that included the record as the failing one. */
  attempts: number;
  /** ISO time it was dead-lettered. */
  at: string;
}

/** Storage of dead letters, plus the handler's failure reasons the mapping quotes in them. */
export interface DeadLetterStore {
  put(deadLetter: DeadLetter): Promise<void>;
  /** The `reason` of the failure record the handler wrote at `ControlSk.failure(seq)`, if any. */
  failureReason(sequenceNumber: string): Promise<string | undefined>;
  list(): Promise<DeadLetter[]>;
}

/** Dead letters in the control table, under the migration's partition. */
export function controlTableDeadLetters(location: ControlLocation): DeadLetterStore {
  return {
    async put(deadLetter) {
      await location.doc.send(
        new PutCommand({
          TableName: location.controlTable,
          Item: { ...controlKey(location.migrationId, ControlSk.deadLetter(deadLetter.sequenceNumber)), ...deadLetter },
        }),
      );
    },
    async failureReason(sequenceNumber) {
      const out = await location.doc.send(
        new GetCommand({ TableName: location.controlTable, Key: controlKey(location.migrationId, ControlSk.failure(sequenceNumber)), ConsistentRead: true }),
      );
      const reason = out.Item?.reason;
      if (reason === undefined || reason === null) return undefined;
      return typeof reason === "string" ? reason : JSON.stringify(reason);
    },
    list: () => listDeadLetters(location),
  };
}

/** Every dead letter of a migration, in sequence-number order. */
export async function listDeadLetters(location: ControlLocation): Promise<DeadLetter[]> {
  const letters: DeadLetter[] = [];
  for await (const record of controlRecords(location, ControlSk.deadLetterPrefix)) letters.push(withoutControlKey(record) as unknown as DeadLetter);
  return letters;
}

/** The plain key of a Lambda stream record. */
export function keysOf(record: DynamoDBRecord): Record<string, unknown> {
  const keys = record.dynamodb?.Keys;
  return keys ? unmarshall(keys as Record<string, AttributeValue>) : {};
}
