/**
 * The dual-write's domain logic, per batch of stream records: plan each record in order, write
 * runs of records that touch different derived keys together (dualwrite/applier.ts), stop at the
 * first failure (it and every later record are reported, so no change of an item is applied
 * before an earlier one), record failures in the control table, and write the heartbeat after
 * a batch that applied a source record, at most once per `heartbeatIntervalMs` (see
 * `heartbeatDue`). The Lambda handler wraps this in Powertools' BatchProcessor
 * (packages/functions/src/dual-write.ts).
 */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import type { DynamoDBRecord } from "aws-lambda";
import type { Migration } from "../definition/define-migration.ts";
import { migrationOnTable } from "../definition/table-keys.ts";
import { keyText } from "../definition/derive.ts";
import { FerryError } from "../errors.ts";
import type { BackoffOptions } from "../util/backoff.ts";
import { addCounts } from "../util/counters.ts";
import type { KindWindow } from "../kinds/kind.ts";
import { kindOf } from "../kinds/registry.ts";
import { recordDeletedImage } from "../cleanup/deleted-images.ts";
import { type ApplyOptions, DEFAULT_APPLY_OPTIONS } from "./applier.ts";
import type { RecordPlan } from "./plan.ts";
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
  /** Conditional writes in flight at once per window (default DEFAULT_APPLY_OPTIONS.concurrency). */
  writeConcurrency?: number;
  /** Waits before a write throttled past the SDK's retries is sent again (default DEFAULT_APPLY_OPTIONS.backoff). */
  writeBackoff?: BackoffOptions;
  /** Fold later changes of a source item within a batch into one write per key (default true; see ApplyWindow.merge). */
  coalesce?: boolean;
  /** Least time between two heartbeats of this writer (default DEFAULT_HEARTBEAT_INTERVAL_MS; 0: after every batch). */
  heartbeatIntervalMs?: number;
}

/**
 * A heartbeat once a second is what its readers can use: creation times are whole seconds on
 * AWS, and the guards that read it allow minutes (lifecycle maxHeartbeatAgeMs, 5 min).
 */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 1_000;

/**
 * Whether a batch writes the heartbeat. Always the first one of a writer (a restarted consumer
 * clears a recorded stop at once) and one that applied a liveness ping (a probe waits for its
 * nonce); otherwise only once the heartbeat would move by at least the interval in either of
 * its times: the wall clock (appliedAt, what the guards read) or the stream's (newestCreatedAt,
 * the lag). So while the consumer applies changes its heartbeat is never older than the
 * interval plus one batch, and what it skips is carried into the next one.
 */
export function heartbeatDue(
  last: { appliedAt: number; newestCreatedAt: number } | undefined,
  next: { appliedAt: number; newestCreatedAt: number; ping: boolean },
  intervalMs: number,
): boolean {
  if (!last || next.ping) return true;
  return next.appliedAt - last.appliedAt >= intervalMs || next.newestCreatedAt - last.newestCreatedAt >= intervalMs;
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
export type RecordOutcome = "applied" | "unchanged" | "ignored" | "ping";

/** What one batch did. */
export interface DualWriteBatchSummary extends DualWriteCounters {
  /** Records after the failing one, reported without being attempted. */
  notAttempted: number;
  firstFailure?: { sequenceNumber: string; kind: FailureKind; errorName: string; reason: string };
  /** Whether the batch wrote the heartbeat (false also when it was not due: see heartbeatDue). */
  heartbeat: boolean;
  /** Windows of key-disjoint records written together. */
  windows: number;
}

export interface DualWriteBatch {
  /** The outcome of one record of the batch (asked in batch order); throws for a failing record and for every record after it. */
  handle(record: DynamoDBRecord): Promise<RecordOutcome>;
  /** After the last record: writes the heartbeat if the batch applied a source record. */
  finish(): Promise<DualWriteBatchSummary>;
}

export interface DualWriter {
  /** One per invocation, with the invocation's records: batches keep their own "stop at the first failure" state. */
  startBatch(records: readonly DynamoDBRecord[]): DualWriteBatch;
}

type Settled = { outcome: RecordOutcome } | { error: unknown };

/**
 * The dual-write of one migration; counters not yet in a heartbeat are carried to the next one.
 * A batch's records are planned in order and written in windows (dualwrite/applier.ts); the first
 * record that fails, and every record after it, are reported, so no change of an item is
 * applied before an earlier change of it.
 */
export function createDualWriter(deps: DualWriteDeps): DualWriter {
  const consumer = deps.consumer ?? DUAL_WRITE_CONSUMER;
  const now = deps.now ?? Date.now;
  const logger = deps.logger ?? SILENT;
  const applyOptions: ApplyOptions = {
    ...DEFAULT_APPLY_OPTIONS,
    ...(deps.writeConcurrency ? { concurrency: deps.writeConcurrency } : {}),
    ...(deps.writeBackoff ? { backoff: deps.writeBackoff } : {}),
  };
  const location = { doc: deps.doc, controlTable: deps.controlTable, migrationId: deps.migration.id };
  const heartbeatIntervalMs = deps.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
  let pending = emptyCounters();
  // The newest source record applied but not yet in a heartbeat, and the heartbeat last written.
  let unreported: { sequenceNumber: string; createdAt: number | undefined } | undefined;
  let lastBeat: { appliedAt: number; newestCreatedAt: number } | undefined;

  const startBatch = (records: readonly DynamoDBRecord[]): DualWriteBatch => {
    const batch = emptyCounters();
    let notAttempted = 0;
    let windows = 0;
    let firstFailure: DualWriteBatchSummary["firstFailure"];
    // The last source record handled: records of a shard come in order, so it is also the newest.
    let newest: { sequenceNumber: string; createdAt: number | undefined } | undefined;
    const settled: Settled[] = [];

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

    // Records planned but not yet written: index in `records`, and the plan (undefined: nothing to write).
    // Bound to the table's key schema in run() (DescribeTable once per process; a misfit table fails the batch).
    let migration = deps.migration;
    const kind = kindOf(migration);
    // Replaced in run() once the key schema is known; empty until then.
    let window: KindWindow<number> = { entries: [], coalesced: false, size: 0, fits: () => false, add: () => {}, merge: () => false };
    let waiting: { index: number; outcome: RecordOutcome; nonce?: string }[] = [];
    let lastPing: string | undefined;

    /**
     * Writes the open window: "ok", or "failed" when a record of it failed (it and every later
     * record are then settled), or "unmerge" when a window holding coalesced changes failed:
     * nothing is settled and the caller writes its records again one change at a time, so the
     * record reported (and retried, and dead-lettered) is the very change that failed.
     */
    const flush = async (): Promise<"ok" | "failed" | "unmerge"> => {
      const entries = window.entries;
      const coalesced = window.coalesced;
      const held = waiting;
      window = kind.newWindow<number>(migration);
      waiting = [];
      let failedAt = Number.POSITIVE_INFINITY;
      if (entries.length > 0) {
        windows++;
        const result = await kind.applyWindow(
          { doc: deps.doc, tableName: deps.tableName, migration },
          entries.map((e) => e.plan),
          applyOptions,
        );
        // Every write is idempotent: writing the window's records again one by one is safe.
        if (result.failure && coalesced) return "unmerge";
        batch.written += result.written;
        batch.deleted += result.deleted;
        batch.superseded += result.superseded ?? 0;
        for (const kept of result.keptDeletes) {
          logger.warn("kept a record another migration or the application owns instead of deleting it", { key: keyText(kept.key), reason: kept.message });
        }
        if (result.failure) {
          failedAt = (entries[result.failure.index] as { tag: number }).tag;
          await fail(records[failedAt] as DynamoDBRecord, result.failure.error);
          settled[failedAt] = { error: result.failure.error };
        }
      }
      for (const { index, outcome, nonce } of held) {
        if (index >= failedAt) continue;
        if (outcome === "applied") batch.applied++;
        else if (outcome === "unchanged") batch.unchanged++;
        else if (outcome === "ping") {
          batch.pings++;
          lastPing = nonce ?? lastPing;
        } else batch.ignored++;
        if (outcome !== "ignored") done(records[index] as DynamoDBRecord);
        settled[index] = { outcome };
      }
      return failedAt === Number.POSITIVE_INFINITY ? "ok" : "failed";
    };

    const run = async () => {
      migration = await migrationOnTable(deps.doc, deps.migration, deps.tableName);
      window = kind.newWindow<number>(migration);
      // Later changes of a source item already in the window are folded into it (ApplyWindow.merge)
      // until a window holding merged changes fails; from its first record on, one change at a time.
      let coalesce = deps.coalesce ?? true;
      let index = 0;
      for (;;) {
        const windowStart = waiting[0]?.index ?? index;
        if (index >= records.length) {
          const flushed = await flush();
          if (flushed !== "unmerge") return;
          [index, coalesce] = [windowStart, false];
          continue;
        }
        const record = records[index] as DynamoDBRecord;
        let plan: RecordPlan;
        try {
          plan = kind.planStreamRecord(migration, record);
          // Kept before the record is acknowledged (cleanup/deleted-images.ts); unkept, it fails and is retried.
          if (plan.kind === "unchanged" && plan.deletedImage) await recordDeletedImage(location, plan.key, plan.deletedImage, sequenceOf(record), now());
        } catch (err) {
          // A record that cannot be planned (or its deleted image kept) fails only after everything before it is written.
          const flushed = await flush();
          if (flushed === "unmerge") {
            [index, coalesce] = [windowStart, false];
            continue;
          }
          if (flushed === "ok") {
            await fail(record, err);
            settled[index] = { error: err };
          }
          return;
        }
        if (plan.kind !== "apply") {
          waiting.push({ index, outcome: plan.kind, ...(plan.kind === "ping" && plan.nonce ? { nonce: plan.nonce } : {}) });
          index++;
          continue;
        }
        if (plan.invalidOldImage) {
          logger.warn("old image fails the migration; it owned no records, so none are deleted", {
            sequenceNumber: sequenceOf(record),
            key: keyText(plan.key),
            reason: plan.invalidOldImage.message,
          });
        }
        if (coalesce && window.merge(plan)) {
          waiting.push({ index, outcome: "applied" });
          index++;
          continue;
        }
        if (!window.fits(plan)) {
          const flushed = await flush();
          if (flushed === "failed") return;
          if (flushed === "unmerge") {
            [index, coalesce] = [windowStart, false];
            continue;
          }
        }
        window.add(plan, index);
        waiting.push({ index, outcome: "applied" });
        index++;
      }
    };
    const ran = run();

    let position = 0;
    return {
      async handle(record) {
        await ran;
        const index = records[position] === record ? position : records.findIndex((r) => sequenceOf(r) === sequenceOf(record));
        position = index + 1;
        const result = settled[index];
        if (result && "outcome" in result) return result.outcome;
        if (result) throw result.error;
        notAttempted++;
        throw new NotAttemptedError(sequenceOf(record), firstFailure?.sequenceNumber ?? "(unknown)");
      },

      async finish() {
        await ran;
        const counters = addCounts(pending, batch);
        let heartbeat = false;
        const latest = newest ? { ...newest, createdAt: newest.createdAt ?? unreported?.createdAt } : unreported;
        const appliedAt = now();
        const beat = latest && { appliedAt, newestCreatedAt: latest.createdAt ?? appliedAt, ping: lastPing !== undefined };
        // Only a batch that applied a source record (or a ping) writes it, as before; the interval only thins them out.
        if (newest && latest && beat && heartbeatDue(lastBeat, beat, heartbeatIntervalMs)) {
          try {
            await writeHeartbeat(deps.doc, deps.controlTable, deps.migration.id, consumer, {
              newestCreatedAt: beat.newestCreatedAt,
              appliedAt,
              sequenceNumber: latest.sequenceNumber,
              counters,
              lastBatch: batch,
              ...(lastPing ? { lastPing } : {}),
            });
            heartbeat = true;
            lastBeat = beat;
          } catch (err) {
            // The batch itself is applied: failing it for a heartbeat would only replay it.
            logger.warn("could not write the heartbeat", { error: String(err) });
          }
        }
        unreported = heartbeat ? undefined : latest;
        pending = heartbeat ? emptyCounters() : counters;
        const summary: DualWriteBatchSummary = { ...batch, notAttempted, heartbeat, windows, ...(firstFailure ? { firstFailure } : {}) };
        logger.debug("batch done", { ...summary });
        return summary;
      },
    };
  };
  return { startBatch };
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
