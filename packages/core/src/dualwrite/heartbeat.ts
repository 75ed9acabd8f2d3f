/**
 * The dual-write heartbeat: one control-table record (`ControlSk.heartbeat(consumer)`) saying
 * how far the consumer has applied the stream (newest creation time, when, which sequence
 * number) plus running counters, from which status commands compute the dual-write lag.
 */
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { ControlSk, controlKey, withoutControlKey } from "../control/keys.ts";

/** Consumer name of the dual-write handler's heartbeat. */
export const DUAL_WRITE_CONSUMER = "dual-write";

/** What the dual-write did with stream records. */
export interface DualWriteCounters {
  /** Source records whose derived records were written/deleted. */
  applied: number;
  /** Source MODIFYs skipped because the schema's projection did not change. */
  unchanged: number;
  /** Records that are not source items of the migration. */
  ignored: number;
  /** Records that failed (poison or transient), each failed attempt counted. */
  failed: number;
  /** Derived records put. */
  written: number;
  /** Derived records deleted. */
  deleted: number;
  /** Liveness pings (dualwrite/liveness.ts) seen. */
  pings: number;
  /** Conditional writes that met a later change of their item (kind attributes): that change's own record writes it. */
  superseded: number;
}

export function emptyCounters(): DualWriteCounters {
  return { applied: 0, unchanged: 0, ignored: 0, failed: 0, written: 0, deleted: 0, pings: 0, superseded: 0 };
}

/** The heartbeat as stored. Counters are totals over every heartbeat written so far. */
export interface Heartbeat extends DualWriteCounters {
  migrationId: string;
  consumer: string;
  /** ApproximateCreationDateTime (ms) of the newest record applied. On DynamoDB Local some are whole minutes. */
  newestCreatedAt: number;
  /** Wall-clock time (ms) that record was applied. */
  appliedAt: number;
  /** SequenceNumber of the newest record applied. */
  sequenceNumber: string;
  /** appliedAt - newestCreatedAt when written (what `ferry backfill-status` shows). */
  lagMs: number;
  /** Batches that wrote this heartbeat. */
  batches: number;
  /** The counters of the batch that wrote it last. */
  lastBatch: DualWriteCounters;
  /** Nonce of the newest liveness ping applied: a probe waits for its own. */
  lastPing?: string;
  /** When a consumer was last stopped cleanly (Ctrl-C / SIGTERM of `ferry dual-write`), ms. */
  stoppedAt?: number;
  /** Who stopped it: user, host, process and signal. */
  stoppedBy?: string;
}

/**
 * True when the heartbeat's consumer was stopped cleanly after the last change it applied:
 * its fresh heartbeat then says nothing about a running dual-write (a consumer started since
 * applies a change, or a liveness ping, before it counts again).
 */
export function stoppedSinceApplied(beat: Pick<Heartbeat, "appliedAt" | "stoppedAt">): boolean {
  return beat.stoppedAt !== undefined && beat.stoppedAt >= beat.appliedAt;
}

export interface HeartbeatBeat {
  newestCreatedAt: number;
  appliedAt: number;
  sequenceNumber: string;
  /** Counted since the last heartbeat; added to the totals. */
  counters: DualWriteCounters;
  lastBatch: DualWriteCounters;
  /** Nonce of a liveness ping the batch applied. */
  lastPing?: string;
}

/** Writes the heartbeat of `consumer`, adding `beat.counters` to the totals. */
export async function writeHeartbeat(
  doc: DynamoDBDocumentClient,
  controlTable: string,
  migrationId: string,
  consumer: string,
  beat: HeartbeatBeat,
): Promise<void> {
  const set: Record<string, unknown> = {
    migrationId,
    consumer,
    newestCreatedAt: beat.newestCreatedAt,
    appliedAt: beat.appliedAt,
    sequenceNumber: beat.sequenceNumber,
    lagMs: Math.max(0, beat.appliedAt - beat.newestCreatedAt),
    lastBatch: beat.lastBatch,
    ...(beat.lastPing ? { lastPing: beat.lastPing } : {}),
  };
  const add: Record<string, number> = { ...beat.counters, batches: 1 };
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  // Placeholders for every name and value: some (e.g. failed, deleted) may be reserved words.
  const name = (n: string) => {
    names[`#${n}`] = n;
    return `#${n}`;
  };
  const value = (n: string, v: unknown) => {
    values[`:${n}`] = v;
    return `:${n}`;
  };
  const sets = Object.entries(set).map(([n, v]) => `${name(n)} = ${value(n, v)}`);
  const adds = Object.entries(add).map(([n, v]) => `${name(n)} ${value(n, v)}`);
  await doc.send(
    new UpdateCommand({
      TableName: controlTable,
      Key: controlKey(migrationId, ControlSk.heartbeat(consumer)),
      UpdateExpression: `SET ${sets.join(", ")} ADD ${adds.join(", ")}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    }),
  );
}

/**
 * Records a clean stop in the heartbeat of `consumer` (stopped at, by whom). Nothing when it
 * never wrote a heartbeat: without one the guards already treat it as not running.
 */
export async function recordHeartbeatStop(
  doc: DynamoDBDocumentClient,
  controlTable: string,
  migrationId: string,
  stop: { at: number; by: string },
  consumer = DUAL_WRITE_CONSUMER,
): Promise<boolean> {
  try {
    await doc.send(
      new UpdateCommand({
        TableName: controlTable,
        Key: controlKey(migrationId, ControlSk.heartbeat(consumer)),
        UpdateExpression: "SET stoppedAt = :at, stoppedBy = :by",
        ConditionExpression: "attribute_exists(PK)",
        ExpressionAttributeValues: { ":at": stop.at, ":by": stop.by },
      }),
    );
    return true;
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return false;
    throw err;
  }
}

/** The heartbeat of `consumer` (the dual-write by default), or undefined when it never applied a source record. */
export async function readHeartbeat(
  doc: DynamoDBDocumentClient,
  controlTable: string,
  migrationId: string,
  consumer = DUAL_WRITE_CONSUMER,
): Promise<Heartbeat | undefined> {
  const out = await doc.send(new GetCommand({ TableName: controlTable, Key: controlKey(migrationId, ControlSk.heartbeat(consumer)), ConsistentRead: true }));
  if (!out.Item) return undefined;
  const heartbeat = withoutControlKey(out.Item);
  return heartbeat as Heartbeat;
}

export interface DualWriteLag {
  /**
   * How long after its write the newest applied change was applied. An upper bound: creation
   * times are whole seconds on AWS and sometimes whole minutes on DynamoDB Local.
   */
  lagMs: number;
  /** Time since the consumer last applied a source record: grows while the table is idle or the consumer is stopped. */
  sinceAppliedMs: number;
}

/** The dual-write lag a heartbeat shows at time `now` (ms). */
export function dualWriteLag(heartbeat: Pick<Heartbeat, "newestCreatedAt" | "appliedAt">, now: number): DualWriteLag {
  return {
    lagMs: Math.max(0, heartbeat.appliedAt - heartbeat.newestCreatedAt),
    sinceAppliedMs: Math.max(0, now - heartbeat.appliedAt),
  };
}
