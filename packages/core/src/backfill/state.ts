/**
 * The backfill's persisted state in the control table: one run record (settings, status,
 * control requests from pause/abort/rate changes) and one checkpoint per segment (the
 * Scan position and counters after the last completed page). A dry run keeps its own
 * records under `backfill#dry-run#...`, so it never replaces the real run's.
 */
import { GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { compareAndSwap, unchangedSince } from "../control/cas.ts";
import { type ControlLocation, backfillSk, controlKey } from "../control/keys.ts";
import { controlRecords } from "../control/control-table.ts";
import type { ItemKey } from "../dynamo/key-schema.ts";
import { EMPTY_COUNTERS, type PageCounters } from "./page.ts";
import type { BackfillSettings } from "./settings.ts";

export type RunStatus = "running" | "paused" | "aborted" | "completed" | "failed";
export type ControlRequest = "pause" | "abort";

export interface BackfillRun {
  runId: string;
  status: RunStatus;
  settings: BackfillSettings;
  /** Current rate after adaptive throttling (<= settings.rate). */
  effectiveRate: number;
  requested?: ControlRequest;
  executions: number;
  startedAt: number;
  updatedAt: number;
  finishedAt?: number;
  lastError?: { name: string; message: string; at: number };
  /** Source items in the table when the run started (for progress and ETA). */
  estimatedItems: number;
  /** Where it runs: in a ferry process (local) or as executions of a deployed state machine. */
  runtime?: RunRuntime;
}

/** A deployed run: the state machine, and the execution the CLI started last (continuations follow from the run's execution count). */
export interface RunRuntime {
  kind: "local" | "stage";
  stage?: string;
  stateMachineArn?: string;
  executionArn?: string;
}

export interface SegmentCheckpoint {
  segment: number;
  runId: string;
  lastKey?: Record<string, unknown>;
  done: boolean;
  pages: number;
  counters: PageCounters;
  updatedAt: number;
}

/** The migration's backfill records (sort keys: control/keys.ts, backfillSk). */
export interface StateStore extends ControlLocation {
  /** Read and write the dry run's records instead of the real run's. */
  dryRun?: boolean;
}

export async function readRun(store: StateStore): Promise<BackfillRun | undefined> {
  const out = await store.doc.send(
    new GetCommand({ TableName: store.controlTable, Key: controlKey(store.migrationId, backfillSk(store).run), ConsistentRead: true }),
  );
  return out.Item?.run as BackfillRun | undefined;
}

export async function writeRun(store: StateStore, run: BackfillRun): Promise<void> {
  await store.doc.send(new PutCommand({ TableName: store.controlTable, Item: { ...controlKey(store.migrationId, backfillSk(store).run), run } }));
}

/** Applies `change` to the run record (read-modify-write; callers hold the backfill lock or set a request). */
export async function updateRun(store: StateStore, change: (run: BackfillRun) => BackfillRun | undefined): Promise<BackfillRun | undefined> {
  return compareAndSwap({ doc: store.doc, record: "backfill run record", migrationId: store.migrationId, attempts: 10 }, async () => {
    const run = await readRun(store);
    if (!run) return { value: undefined };
    const next = change(structuredClone(run));
    if (!next) return { value: run };
    next.updatedAt = Date.now();
    return {
      value: next,
      // Optimistic concurrency: pause/abort from another terminal must not be lost.
      put: {
        TableName: store.controlTable,
        Item: { ...controlKey(store.migrationId, backfillSk(store).run), run: next },
        ...unchangedSince(["run", "updatedAt"], run.updatedAt),
      },
    };
  });
}

/** True while `runId` is the current run, running, with no pause or abort requested: its pages may keep writing. */
export async function runStillWriting(store: StateStore, runId: string): Promise<boolean> {
  const run = await readRun(store);
  return run?.runId === runId && run.status === "running" && !run.requested;
}

/**
 * The fence a page checks before each transaction call. It re-reads the run record only when
 * the last read that said "still writing" began more than `maxAgeMs` ago: a read per call
 * cost a third of the backfill's time on DynamoDB Local, for a guarantee the abort grace
 * does not need. `confirmedAt` is when the page's own read of the run began.
 */
export function runFence(store: StateStore, runId: string, maxAgeMs: number, confirmedAt: number, now: () => number = Date.now): () => Promise<boolean> {
  let confirmed = confirmedAt;
  return async () => {
    if (now() - confirmed < maxAgeMs) return true;
    const readAt = now();
    const writing = await runStillWriting(store, runId);
    if (writing) confirmed = readAt;
    return writing;
  };
}

export async function readCheckpoints(store: StateStore): Promise<SegmentCheckpoint[]> {
  const out: SegmentCheckpoint[] = [];
  for await (const item of controlRecords(store, backfillSk(store).segmentPrefix)) out.push(item.checkpoint as SegmentCheckpoint);
  return out.sort((a, b) => a.segment - b.segment);
}

export async function readCheckpoint(store: StateStore, segment: number): Promise<SegmentCheckpoint | undefined> {
  const out = await store.doc.send(
    new GetCommand({
      TableName: store.controlTable,
      Key: controlKey(store.migrationId, backfillSk(store).segment(segment)),
      ConsistentRead: true,
    }),
  );
  return out.Item?.checkpoint as SegmentCheckpoint | undefined;
}

export function freshCheckpoint(runId: string, segment: number): SegmentCheckpoint {
  return { segment, runId, done: false, pages: 0, counters: { ...EMPTY_COUNTERS }, updatedAt: Date.now() };
}

/**
 * Saves a segment checkpoint, only if the stored one is still the one this page started
 * from (same page count): a page retried after a crash can then never count twice.
 */
export async function saveCheckpoint(store: StateStore, next: SegmentCheckpoint, previousPages: number): Promise<boolean> {
  try {
    await store.doc.send(
      new PutCommand({
        TableName: store.controlTable,
        Item: { ...controlKey(store.migrationId, backfillSk(store).segment(next.segment)), checkpoint: next },
        ConditionExpression:
          previousPages === 0 ? "attribute_not_exists(PK) OR (#c.#runId <> :run) OR #c.#pages = :prev" : "#c.#runId = :run AND #c.#pages = :prev",
        ExpressionAttributeNames: { "#c": "checkpoint", "#pages": "pages", "#runId": "runId" },
        ExpressionAttributeValues: { ":prev": previousPages, ":run": next.runId },
      }),
    );
    return true;
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return false;
    throw err;
  }
}

/** Records items a page could not convert (schema/derive failures), with key and reason. */
export async function recordItemFailures(store: StateStore, failures: { key: ItemKey; error: string; message: string }[]): Promise<void> {
  for (const f of failures) {
    await store.doc.send(
      new PutCommand({
        TableName: store.controlTable,
        Item: { ...controlKey(store.migrationId, backfillSk(store).failure(f.key)), ...f, at: Date.now() },
      }),
    );
  }
}

/**
 * Updates the effective rate (adaptive throttling) if it is still `expected`: a live rate
 * change made meanwhile (`ferry convert --rate`) must win over a page's adjustment.
 */
export async function setEffectiveRate(store: StateStore, rate: number, expected: number): Promise<void> {
  try {
    await store.doc.send(
      new UpdateCommand({
        TableName: store.controlTable,
        Key: controlKey(store.migrationId, backfillSk(store).run),
        UpdateExpression: "SET #run.#rate = :rate",
        ConditionExpression: "#run.#rate = :expected",
        ExpressionAttributeNames: { "#run": "run", "#rate": "effectiveRate" },
        ExpressionAttributeValues: { ":rate": rate, ":expected": expected },
      }),
    );
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
  }
}

/** An item a run could not convert, as recorded by recordItemFailures. */
export interface ItemFailure {
  /** The item's key under the data table's names. */
  key: ItemKey;
  error: string;
  message: string;
  at: number;
}

/** Items recorded as not convertible since `sinceMs` (a run's start): the first `limit`, and how many in all. */
export async function readItemFailures(store: StateStore, sinceMs: number, limit: number): Promise<{ items: ItemFailure[]; total: number }> {
  const items: ItemFailure[] = [];
  let total = 0;
  for await (const record of controlRecords(store, backfillSk(store).failurePrefix)) {
    const item = record as unknown as ItemFailure;
    // Failure records outlive runs; a restarted run re-records the ones still failing.
    if (item.at < sinceMs) continue;
    total++;
    if (items.length < limit) items.push({ key: item.key, error: item.error, message: item.message, at: item.at });
  }
  return { items, total };
}
