/**
 * The backfill's task functions: the same code runs as Lambda task handlers behind the
 * deployed state machine and as local task handlers in aws-local-stepfunctions. Every
 * decision reads the persisted run and checkpoints, so a retried or re-run task is safe.
 */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { Migration } from "../definition/define-migration.ts";
import { migrationOnTable } from "../definition/table-keys.ts";
import { FerryError } from "../errors.ts";
import { isThrottled } from "../dynamo/throttled.ts";
import { sleep as defaultSleep } from "../util/backoff.ts";
import { addCounts } from "../util/counters.ts";
import { kindOf } from "../kinds/registry.ts";
import { EMPTY_COUNTERS, type PageCounters, type PageResult } from "./page.ts";
import { notePending, pendingOf, readSegment } from "./pending.ts";
import { RunFencedError } from "./transactions.ts";
import {
  type StateStore,
  freshCheckpoint,
  readCheckpoints,
  readRun,
  recordItemFailures,
  runFence,
  saveCheckpoint,
  setEffectiveRate,
  updateRun,
} from "./state.ts";
import { DEFAULT_FENCE_MAX_AGE_MS } from "./settings.ts";

/** The state machine's execution input. */
export interface BackfillExecutionInput {
  migrationId: string;
  table: string;
  controlTable: string;
  runId: string;
  execution: number;
  /** A dry run: its records live apart from the real run's (see backfillSk in control/keys.ts). Always present, so the ASL can pass it on. */
  dryRun: boolean;
}

export interface BackfillTaskDeps {
  doc: DynamoDBDocumentClient;
  loadMigration: (id: string) => Promise<Migration>;
  /** Starts the next execution with `input` (SFN StartExecution on AWS, a new local run locally). */
  startExecution: (input: BackfillExecutionInput) => Promise<void>;
  /** Dual-write lag in ms, when known (heartbeat); the backfill slows while it is high. */
  dualWriteLagMs?: (migrationId: string) => Promise<number | undefined>;
  sleep?: (ms: number) => Promise<void>;
  /** Called after a page is converted and before its checkpoint is saved (traces; tests measure rework with it). */
  onPage?: (trace: PageTrace) => void | Promise<void>;
}

/** One converted page, as seen by `onPage`. */
export interface PageTrace {
  runId: string;
  segment: number;
  /** Pages of this segment checkpointed before this one (its index in the segment). */
  page: number;
  startKey?: Record<string, unknown>;
  scanned: number;
  /** The run's effective rate when the page started. */
  effectiveRate: number;
  at: number;
}

export type PageStatus = "more" | "done" | "yield" | "stopped";

export class BackfillRunMismatchError extends FerryError {
  constructor(
    readonly migrationId: string,
    readonly runId: string,
  ) {
    super(`The backfill run ${runId} of ${migrationId} is not the current run; a newer \`ferry convert\` replaced it.`);
  }
}

/** ferry's errors for throttling (or contention) that outlasted its own retries; the calls' own are isThrottled. */
const RETRIES_EXHAUSTED: ReadonlySet<string> = new Set(["TransactionRetriesExhaustedError", "StatementRetriesExhaustedError"]);

function storeOf(deps: BackfillTaskDeps, input: { migrationId: string; controlTable: string; dryRun?: boolean }): StateStore {
  return { doc: deps.doc, controlTable: input.controlTable, migrationId: input.migrationId, dryRun: input.dryRun === true };
}

/**
 * Source items a page counts against the rate: the ones it wrote (converted) or tried to
 * write (deferred: a cancelled transaction costs write capacity too). Other items the Scan
 * reads (derived records, other entities) are not throttled: the rate protects the writes.
 * A dry run writes nothing and counts what it would convert, so it paces like the real run.
 */
export function rateCountedItems(counters: PageCounters): number {
  return counters.converted + counters.deferred;
}

/** Creates the five task functions, keyed by their state names in backfill.asl.json. */
export function createBackfillTasks(deps: BackfillTaskDeps) {
  const sleep = deps.sleep ?? defaultSleep;

  async function PlanSegments(input: BackfillExecutionInput) {
    const store = storeOf(deps, input);
    const run = await readRun(store);
    if (!run || run.runId !== input.runId) throw new BackfillRunMismatchError(input.migrationId, input.runId);
    const done = new Set((await readCheckpoints(store)).filter((c) => c.runId === run.runId && c.done).map((c) => c.segment));
    const open = Array.from({ length: run.settings.segments }, (_, s) => s).filter((s) => !done.has(s));
    const pageBudget = Math.max(1, Math.floor(run.settings.maxPagesPerExecution / Math.max(1, open.length)));
    return { segments: open.map((segment) => ({ segment })), pageBudget, maxConcurrency: Math.max(1, open.length) };
  }

  async function Page(input: BackfillExecutionInput & { segment: number; pagesLeft: number; openSegments?: number; progress?: { pagesLeft: number } }) {
    const store = storeOf(deps, input);
    const pagesLeft = input.progress?.pagesLeft ?? input.pagesLeft;
    const runReadAt = Date.now();
    // Three independent reads in one round trip: a page's fixed cost is its sequential calls (the network model).
    const [run, segmentRecord, lag] = await Promise.all([
      readRun(store),
      pagesLeft > 0 ? readSegment(store, input.segment) : undefined,
      pagesLeft > 0 ? deps.dualWriteLagMs?.(input.migrationId) : undefined,
    ]);
    if (!run || run.runId !== input.runId || run.requested || run.status !== "running") {
      return { status: "stopped" as PageStatus, pagesLeft };
    }
    if (pagesLeft <= 0 || !segmentRecord) return { status: "yield" as PageStatus, pagesLeft };
    const stored = segmentRecord.checkpoint;
    const checkpoint = stored && stored.runId === run.runId ? stored : freshCheckpoint(run.runId, input.segment);
    if (checkpoint.done) return { status: "done" as PageStatus, pagesLeft };

    if (lag !== undefined && lag > run.settings.maxDualWriteLagMs) {
      // Like gh-ost on replica lag: give the dual-write room before adding more writes.
      await sleep(Math.min(2_000, lag - run.settings.maxDualWriteLagMs));
    }

    // The table's key schema, read in the task (DescribeTable, cached per process): the task runs anywhere.
    const migration = await migrationOnTable(deps.doc, await deps.loadMigration(input.migrationId), input.table);
    const started = Date.now();
    let result: PageResult;
    try {
      result = await kindOf(migration).convertPage(deps.doc, input.table, migration, {
        segment: input.segment,
        totalSegments: run.settings.segments,
        pageSize: run.settings.pageSize,
        dryRun: run.settings.dryRun,
        fence: runFence(store, run.runId, run.settings.fenceMaxAgeMs ?? DEFAULT_FENCE_MAX_AGE_MS, runReadAt),
        // What an attempt of this page that died between its writes and its validation read may have written.
        pending: pendingOf(segmentRecord.notes, run.runId, checkpoint.pages),
        beforeWrite: (owners) => notePending(store, input.segment, run.runId, checkpoint.pages, owners),
        ...(checkpoint.lastKey ? { startKey: checkpoint.lastKey } : {}),
      });
    } catch (err) {
      // Asked to stop while this page wrote: it sent nothing once the fence saw it; no checkpoint, redone on resume.
      if (err instanceof RunFencedError) return { status: "stopped" as PageStatus, pagesLeft };
      if (isThrottled(err) || (err instanceof Error && RETRIES_EXHAUSTED.has(err.name))) {
        // Adaptive throttling: halve the rate now, recover slowly on clean pages.
        await setEffectiveRate(store, Math.max(1, run.effectiveRate / 2), run.effectiveRate);
      }
      throw err;
    }
    await deps.onPage?.({
      runId: run.runId,
      segment: input.segment,
      page: checkpoint.pages,
      ...(checkpoint.lastKey ? { startKey: checkpoint.lastKey } : {}),
      scanned: result.counters.scanned,
      effectiveRate: run.effectiveRate,
      at: Date.now(),
    });
    await recordItemFailures(store, result.failures);
    const next = {
      ...checkpoint,
      pages: checkpoint.pages + 1,
      done: !result.lastKey,
      counters: addCounts(checkpoint.counters, result.counters),
      updatedAt: Date.now(),
    };
    if (result.lastKey) next.lastKey = result.lastKey;
    else delete next.lastKey;
    if (!(await saveCheckpoint(store, next, checkpoint.pages))) {
      // Another attempt of this page already checkpointed it: re-read instead of counting twice.
      return { status: "more" as PageStatus, pagesLeft: pagesLeft - 1 };
    }
    // A page that rode out throttling by retrying holds the rate; only a clean page raises it again.
    if (!result.throttled && run.effectiveRate < run.settings.rate) {
      await setEffectiveRate(store, Math.min(run.settings.rate, run.effectiveRate * 1.1 + 1), run.effectiveRate);
    }
    // The rate is a cap on items written per second across all segments: each open segment takes its share.
    const perSegment = run.effectiveRate / Math.max(1, input.openSegments ?? run.settings.segments);
    const minMs = (rateCountedItems(result.counters) / perSegment) * 1000;
    const wait = minMs - (Date.now() - started);
    if (wait > 0) await sleep(wait);
    return { status: (next.done ? "done" : "more") as PageStatus, pagesLeft: pagesLeft - 1 };
  }

  async function Finish(input: BackfillExecutionInput) {
    const store = storeOf(deps, input);
    const checkpoints = (await readCheckpoints(store)).filter((c) => c.runId === input.runId);
    let decision: { continue: boolean; status: string } = { continue: false, status: "stopped" };
    await updateRun(store, (run) => {
      if (run.runId !== input.runId) return undefined;
      const allDone = checkpoints.filter((c) => c.done).length === run.settings.segments;
      if (allDone) {
        decision = { continue: false, status: "completed" };
        return { ...run, status: "completed", finishedAt: Date.now(), requested: undefined };
      }
      if (run.requested) {
        const status = run.requested === "abort" ? "aborted" : "paused";
        decision = { continue: false, status };
        return { ...run, status, requested: undefined };
      }
      if (run.status !== "running") return undefined;
      decision = { continue: true, status: "running" };
      return { ...run, executions: run.executions + 1 };
    });
    return decision;
  }

  async function ContinueAsNewExecution(input: BackfillExecutionInput) {
    const next: BackfillExecutionInput = {
      migrationId: input.migrationId,
      table: input.table,
      controlTable: input.controlTable,
      runId: input.runId,
      execution: input.execution + 1,
      dryRun: input.dryRun === true,
    };
    await deps.startExecution(next);
    return { execution: next.execution };
  }

  async function RecordFailure(input: BackfillExecutionInput & { error?: { Error?: string; Cause?: string } }) {
    const store = storeOf(deps, input);
    await updateRun(store, (run) =>
      run.runId !== input.runId
        ? undefined
        : {
            ...run,
            status: "failed",
            lastError: { name: input.error?.Error ?? "Error", message: input.error?.Cause ?? "unknown", at: Date.now() },
          },
    );
    return { recorded: true };
  }

  return { PlanSegments, Page, Finish, ContinueAsNewExecution, RecordFailure };
}

export type BackfillTasks = ReturnType<typeof createBackfillTasks>;

/** Sum of the counters of every segment of a run. */
export function totalCounters(checkpoints: { counters: PageCounters }[]): PageCounters {
  return checkpoints.reduce<PageCounters>((sum, c) => addCounts(sum, c.counters), { ...EMPTY_COUNTERS });
}
