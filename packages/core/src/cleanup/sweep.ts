/**
 * A sweep: a parallel segment Scan over the data table that hands each page to a
 * processor (rollback deletes derived records, the remove step's cleanup drops old
 * attributes), throttled to a rate across segments, and checkpointed after every page in
 * the control table like the backfill (`<kind>#run`, `<kind>#segment#NNNNN`), so a stopped
 * or killed sweep resumes where its segments were. A page is processed before its
 * checkpoint, so a crash repeats at most one page per segment: processors are idempotent.
 */
import { randomUUID } from "node:crypto";
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { type ControlLocation, ControlSk, controlKey, withoutControlKey } from "../control/keys.ts";
import { UsageError } from "../errors.ts";
import { sleep } from "../util/backoff.ts";

export interface SweepSettings {
  /** Parallel Scan segments. */
  segments: number;
  /** Items per Scan page (Limit); each page is checkpointed. */
  pageSize: number;
  /** Cap on items processed (deleted, cleaned) per second across all segments. */
  rate: number;
}

export const DEFAULT_SWEEP_SETTINGS: SweepSettings = { segments: 4, pageSize: 100, rate: 1_000 };

export type SweepStatus = "running" | "stopped" | "completed";

export interface SweepTotals {
  scanned: number;
  /** Items the processor acted on (deleted, cleaned). */
  processed: number;
  /** Matching items left alone (changed or gone meanwhile). */
  skipped: number;
}

export interface SweepRun {
  runId: string;
  kind: string;
  status: SweepStatus;
  settings: SweepSettings;
  startedAt: number;
  updatedAt: number;
  finishedAt?: number;
  /** Data the sweep's owner keeps with the run (e.g. the backup file). */
  data?: Record<string, unknown>;
}

export interface SweepCheckpoint {
  runId: string;
  segment: number;
  lastKey?: Record<string, unknown>;
  done: boolean;
  pages: number;
  totals: SweepTotals;
}

/** One page of a segment, as the task's scan returns it. */
export interface SweepPage<T> {
  items: T[];
  scanned: number;
  lastKey?: Record<string, unknown>;
}

export interface SweepTask<T> extends ControlLocation {
  /** Record namespace in the control table: "rollback", "cleanup". */
  kind: string;
  scanPage(segment: number, totalSegments: number, startKey: Record<string, unknown> | undefined, limit: number): Promise<SweepPage<T>>;
  /** Acts on the page's matching items; returns how many were processed and skipped. */
  processPage(items: T[], run: SweepRun): Promise<{ processed: number; skipped: number }>;
}

export interface SweepRunOptions {
  /** Stops after the current pages (status "stopped", resumable). */
  signal?: AbortSignal;
  /** Start over instead of resuming an unfinished run. */
  restart?: boolean;
  /** Kept with a new run (`run.data`). */
  data?: Record<string, unknown>;
  onPage?: (totals: SweepTotals, checkpoint: SweepCheckpoint) => void;
}

export interface SweepResult {
  run: SweepRun;
  totals: SweepTotals;
  /** True when this call continued an unfinished run. */
  resumed: boolean;
}

export class InvalidSweepSettingsError extends UsageError {}

const runSk = ControlSk.sweepRun;
const segmentSk = ControlSk.sweepSegment;

/** Spends `n` units of a rate shared by every segment (a simple pacing limiter). */
export class RateLimiter {
  private next = 0;
  constructor(private readonly perSecond: number) {}
  async take(n: number, signal?: AbortSignal): Promise<void> {
    if (n <= 0) return;
    const now = Date.now();
    const start = Math.max(now, this.next);
    this.next = start + (n * 1000) / this.perSecond;
    if (start > now) await sleep(start - now, signal).catch(() => undefined);
  }
}

export async function readSweepRun(task: Pick<SweepTask<unknown>, "doc" | "controlTable" | "migrationId" | "kind">): Promise<SweepRun | undefined> {
  const out = await task.doc.send(new GetCommand({ TableName: task.controlTable, Key: controlKey(task.migrationId, runSk(task.kind)), ConsistentRead: true }));
  if (!out.Item) return undefined;
  const run = withoutControlKey(out.Item);
  return run as SweepRun;
}

async function put(task: SweepTask<unknown>, sk: string, value: object): Promise<void> {
  await task.doc.send(new PutCommand({ TableName: task.controlTable, Item: { ...value, ...controlKey(task.migrationId, sk) } }));
}

async function readCheckpoint(task: SweepTask<unknown>, run: SweepRun, segment: number): Promise<SweepCheckpoint> {
  const out = await task.doc.send(
    new GetCommand({ TableName: task.controlTable, Key: controlKey(task.migrationId, segmentSk(task.kind, segment)), ConsistentRead: true }),
  );
  const stored = out.Item as SweepCheckpoint | undefined;
  if (stored && stored.runId === run.runId) return stored;
  return { runId: run.runId, segment, done: false, pages: 0, totals: { scanned: 0, processed: 0, skipped: 0 } };
}

/** Runs (or resumes) the sweep to the end, or until `signal` stops it. */
export async function runSweep<T>(task: SweepTask<T>, settings: Partial<SweepSettings> = {}, options: SweepRunOptions = {}): Promise<SweepResult> {
  const existing = await readSweepRun(task);
  const resumed = Boolean(existing && existing.status !== "completed" && !options.restart);
  const now = Date.now();
  const run: SweepRun = resumed
    ? {
        ...(existing as SweepRun),
        status: "running",
        settings: { ...(existing as SweepRun).settings, ...(settings.rate !== undefined ? { rate: settings.rate } : {}) },
        updatedAt: now,
      }
    : {
        runId: randomUUID(),
        kind: task.kind,
        status: "running",
        settings: { ...DEFAULT_SWEEP_SETTINGS, ...settings },
        startedAt: now,
        updatedAt: now,
        ...(options.data ? { data: options.data } : {}),
      };
  const s = run.settings;
  if (!(s.segments >= 1 && s.pageSize >= 1 && s.rate > 0)) {
    throw new InvalidSweepSettingsError(`segments, page size and rate must be positive (got ${s.segments}, ${s.pageSize}, ${s.rate}).`);
  }
  await put(task as SweepTask<unknown>, runSk(task.kind), run);

  const limiter = new RateLimiter(s.rate);
  const checkpoints = await Promise.all(Array.from({ length: s.segments }, (_, i) => readCheckpoint(task as SweepTask<unknown>, run, i)));
  const sum = (): SweepTotals =>
    checkpoints.reduce(
      (acc, c) => ({ scanned: acc.scanned + c.totals.scanned, processed: acc.processed + c.totals.processed, skipped: acc.skipped + c.totals.skipped }),
      {
        scanned: 0,
        processed: 0,
        skipped: 0,
      },
    );

  await Promise.all(
    checkpoints.map(async (checkpoint, index) => {
      let current = checkpoint;
      while (!current.done && !options.signal?.aborted) {
        const page = await task.scanPage(current.segment, s.segments, current.lastKey, s.pageSize);
        await limiter.take(page.items.length, options.signal);
        const outcome = page.items.length > 0 ? await task.processPage(page.items, run) : { processed: 0, skipped: 0 };
        const { lastKey: _previous, ...rest } = current;
        current = {
          ...rest,
          ...(page.lastKey ? { lastKey: page.lastKey } : {}),
          done: !page.lastKey,
          pages: current.pages + 1,
          totals: {
            scanned: current.totals.scanned + page.scanned,
            processed: current.totals.processed + outcome.processed,
            skipped: current.totals.skipped + outcome.skipped,
          },
        };
        await put(task as SweepTask<unknown>, segmentSk(task.kind, current.segment), current);
        checkpoints[index] = current;
        options.onPage?.(sum(), current);
      }
    }),
  );

  const complete = checkpoints.every((c) => c.done);
  const end = Date.now();
  const final: SweepRun = { ...run, status: complete ? "completed" : "stopped", updatedAt: end, ...(complete ? { finishedAt: end } : {}) };
  await put(task as SweepTask<unknown>, runSk(task.kind), final);
  return { run: final, totals: sum(), resumed };
}
