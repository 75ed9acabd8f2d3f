/**
 * The dual-write's domain logic, per batch of stream records: apply each record in order,
 * stop at the first failure (it and every later record are reported, so no change of an item
 * is applied before an earlier one), record failures in the control table, and write the
 * heartbeat once the batch applied a source record. The Lambda handler wraps this in
 * Powertools' BatchProcessor (packages/functions/src/dual-write.ts).
 */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import type { DynamoDBRecord } from "aws-lambda";
import type { Migration } from "../definition/define-migration.ts";
import { keyText } from "../definition/derive.ts";
import { FerryError } from "../errors.ts";
import { type BackoffOptions, DEFAULT_BACKOFF } from "../util/backoff.ts";
import { applyPlan } from "./applier.ts";
import { planStreamRecord } from "./dual-write-plan.ts";
import { type FailureKind, failureKind, recordFailure } from "./failures.ts";
import { DUAL_WRITE_CONSUMER, type DualWriteCounters, emptyCounters, writeHeartbeat } from "./heartbeat.ts";

/** The logging the dual-write needs; Powertools' Logger fits it. */
export interface DualWriteLogger {
  debug(message: string, attributes: Record<string, unknown>): void;
  info(message: string, attributes: Record<string, unknown>): void;
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}

const SILENT: DualWriteLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** What the dual-write needs; the Lambda builds it from the environment, the local mapping passes its own. */
export interface DualWriteDeps {
  migration: Migration;
  doc: DynamoDBDocumentClient;
  /** The data table the stream comes from and the derived records go to. */
  tableName: string;
  /** ferry's control table (failure records, heartbeat). */
  controlTable: string;
  /** Heartbeat name (default DUAL_WRITE_CONSUMER). */
  consumer?: string;
  /** Clock in ms since the epoch (default Date.now). */
  now?: () => number;
  logger?: DualWriteLogger;
  /** Retries of unprocessed BatchWriteItem requests. */
  backoff?: BackoffOptions;
}

/** A later record of a batch in which an earlier record failed: not attempted, retried after it. */
export class NotAttemptedError extends FerryError {
  constructor(
    readonly sequenceNumber: string,
    readonly failedSequenceNumber: string,
  ) {
    super(`Record ${sequenceNumber} was not applied: record ${failedSequenceNumber} before it in the batch failed; it is retried after that one.`);
  }
}

/** How one record ended. */
export type RecordOutcome = "applied" | "unchanged" | "ignored";

/** What one batch did. */
export interface DualWriteBatchSummary extends DualWriteCounters {
  /** Records after the failing one, reported without being attempted. */
  notAttempted: number;
  firstFailure?: { sequenceNumber: string; kind: FailureKind; errorName: string; reason: string };
  /** Whether the batch wrote the heartbeat. */
  heartbeat: boolean;
}

export interface DualWriteBatch {
  /** Applies one record, in batch order; throws for a failing record and for every record after it. */
  handle(record: DynamoDBRecord): Promise<RecordOutcome>;
  /** After the last record: writes the heartbeat if the batch applied a source record. */
  finish(): Promise<DualWriteBatchSummary>;
}

export interface DualWriter {
  /** One per invocation: batches keep their own "stop at the first failure" state. */
  startBatch(): DualWriteBatch;
}

/** The dual-write of one migration; counters not yet in a heartbeat are carried to the next one. */
export function createDualWriter(deps: DualWriteDeps): DualWriter {
  const consumer = deps.consumer ?? DUAL_WRITE_CONSUMER;
  const now = deps.now ?? Date.now;
  const logger = deps.logger ?? SILENT;
  const location = { doc: deps.doc, controlTable: deps.controlTable, migrationId: deps.migration.id };
  let pending = emptyCounters();

  const startBatch = (): DualWriteBatch => {
    const batch = emptyCounters();
    let notAttempted = 0;
    let firstFailure: DualWriteBatchSummary["firstFailure"];
    // The last source record handled: records of a shard come in order, so it is also the newest.
    let newest: { sequenceNumber: string; createdAt: number | undefined } | undefined;

    const done = (record: DynamoDBRecord) => {
      const times = [newest?.createdAt, createdAtMs(record)].filter((t): t is number => t !== undefined);
      newest = { sequenceNumber: sequenceOf(record), createdAt: times.length > 0 ? Math.max(...times) : undefined };
    };

    const fail = async (record: DynamoDBRecord, err: unknown) => {
      const sequenceNumber = sequenceOf(record);
      const kind = failureKind(err);
      const errorName = err instanceof Error ? err.name : typeof err;
      const reason = err instanceof Error ? err.message : String(err);
      batch.failed++;
      firstFailure = { sequenceNumber, kind, errorName, reason };
      const sourceKey = keysOf(record);
      const createdAt = createdAtMs(record);
      const attributes = { sequenceNumber, eventName: record.eventName, key: keyText(sourceKey), kind, errorName, reason };
      if (kind === "poison") logger.error("stream record cannot be applied", attributes);
      else logger.warn("stream record failed; it will be retried", attributes);
      try {
        await recordFailure(
          location,
          consumer,
          {
            sequenceNumber,
            sourceKey,
            error: err,
            ...(record.eventID ? { eventID: record.eventID } : {}),
            ...(record.eventName ? { eventName: record.eventName } : {}),
            ...(createdAt !== undefined ? { createdAt } : {}),
          },
          now(),
        );
      } catch (recordErr) {
        // The record is reported as failed either way; only the reason would be missing from its dead letter.
        logger.error("could not write the failure record", { sequenceNumber, error: String(recordErr) });
      }
    };

    return {
      async handle(record) {
        if (firstFailure) {
          notAttempted++;
          throw new NotAttemptedError(sequenceOf(record), firstFailure.sequenceNumber);
        }
        try {
          const plan = planStreamRecord(deps.migration, record);
          if (plan.kind === "ignored") {
            batch.ignored++;
            return "ignored";
          }
          if (plan.kind === "unchanged") {
            batch.unchanged++;
            done(record);
            return "unchanged";
          }
          if (plan.invalidOldImage) {
            logger.warn("old image fails the migration; it owned no records, so none are deleted", {
              sequenceNumber: sequenceOf(record),
              key: keyText(plan.key),
              reason: plan.invalidOldImage.message,
            });
          }
          const result = await applyPlan(deps.doc, deps.tableName, plan, deps.backoff ?? DEFAULT_BACKOFF);
          batch.applied++;
          batch.written += result.written;
          batch.deleted += result.deleted;
          done(record);
          return "applied";
        } catch (err) {
          await fail(record, err);
          throw err;
        }
      },

      async finish() {
        const counters = addCounters(pending, batch);
        let heartbeat = false;
        if (newest) {
          const appliedAt = now();
          try {
            await writeHeartbeat(deps.doc, deps.controlTable, deps.migration.id, consumer, {
              newestCreatedAt: newest.createdAt ?? appliedAt,
              appliedAt,
              sequenceNumber: newest.sequenceNumber,
              counters,
              lastBatch: batch,
            });
            heartbeat = true;
          } catch (err) {
            // The batch itself is applied: failing it for a heartbeat would only replay it.
            logger.warn("could not write the heartbeat", { error: String(err) });
          }
        }
        pending = heartbeat ? emptyCounters() : counters;
        const summary: DualWriteBatchSummary = { ...batch, notAttempted, heartbeat, ...(firstFailure ? { firstFailure } : {}) };
        logger.debug("batch done", { ...summary });
        return summary;
      },
    };
  };
  return { startBatch };
}

function addCounters(a: DualWriteCounters, b: DualWriteCounters): DualWriteCounters {
  return {
    applied: a.applied + b.applied,
    unchanged: a.unchanged + b.unchanged,
    ignored: a.ignored + b.ignored,
    failed: a.failed + b.failed,
    written: a.written + b.written,
    deleted: a.deleted + b.deleted,
  };
}

function sequenceOf(record: DynamoDBRecord): string {
  return record.dynamodb?.SequenceNumber ?? "";
}

/** ApproximateCreationDateTime (seconds in the event) in ms. */
function createdAtMs(record: DynamoDBRecord): number | undefined {
  const seconds = record.dynamodb?.ApproximateCreationDateTime;
  return seconds === undefined ? undefined : Math.round(seconds * 1000);
}

function keysOf(record: DynamoDBRecord): Record<string, unknown> {
  const keys = record.dynamodb?.Keys;
  return keys ? unmarshall(keys as Record<string, AttributeValue>) : {};
}
