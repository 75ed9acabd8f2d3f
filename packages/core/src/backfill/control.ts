/**
 * The convert step's commands on the local runtime: start, resume, pause, abort, live rate
 * changes and status. Each reads and writes the persisted run, so another terminal (or a
 * later process after a crash) sees and steers the same backfill.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { DynamoClients } from "../aws/dynamodb.ts";
import type { Migration } from "../definition/define-migration.ts";
import { RefusalError, UsageError } from "../errors.ts";
import { ensureControlTable } from "../control/control-table.ts";
import { withTableKeys } from "../definition/table-keys.ts";
import { keySchemaOf } from "../dynamo/key-schema.ts";
import { describeTable } from "../dynamo/table.ts";
import { type Lease, type LockHolder, acquireLock, DEFAULT_LOCK_OPTIONS, readLock } from "./lock.ts";
import { type LocalExecutionSummary, type LocalRunOptions, runBackfillExecutions } from "./local-runner.ts";
import type { PageCounters } from "./page.ts";
import { type BackfillSettings, DEFAULT_BACKFILL_SETTINGS } from "./settings.ts";
import { type BackfillRun, type ControlRequest, type SegmentCheckpoint, type StateStore, readCheckpoints, readRun, updateRun, writeRun } from "./state.ts";
import { type BackfillExecutionInput, type BackfillTaskDeps, rateCountedItems, totalCounters } from "./tasks.ts";

export interface ConvertContext {
  clients: DynamoClients;
  tableName: string;
  controlTable: string;
  migration: Migration;
  /** Dual-write lag source for the lag throttle (the heartbeat), if any. */
  dualWriteLagMs?: (migrationId: string) => Promise<number | undefined>;
  /** Page trace hook, passed to the page tasks (see BackfillTaskDeps.onPage). */
  onPage?: BackfillTaskDeps["onPage"];
  /** Act on the dry run's records (`ferry convert --dry-run`) instead of the real run's. */
  dryRun?: boolean;
}

export interface ConvertRunOptions extends LocalRunOptions {
  /** Lock owner name; defaults to host:pid. */
  owner?: string;
  leaseMs?: number;
  /** How long to wait for another holder's lease to lapse (resume waits by default). */
  lockWaitMs?: number;
}

export interface ConversionResult {
  run: BackfillRun;
  totals: PageCounters;
  executions: LocalExecutionSummary[];
}

/** An unfinished run is in the way of a new one: a refusal (exit 3), like a backfill that runs. */
export class BackfillUnfinishedError extends RefusalError {
  readonly guard = "backfill-finished";
  constructor(
    readonly migrationId: string,
    readonly run: BackfillRun,
  ) {
    super(
      `A backfill of ${migrationId} (run ${run.runId}) is ${run.status}, not finished. ` +
        "`ferry resume` continues it from its checkpoints; `ferry convert --restart` starts over from the beginning.",
    );
  }
}

export class NoBackfillError extends UsageError {
  constructor(readonly migrationId: string) {
    super(`There is no backfill of ${migrationId} to act on; start one with \`ferry convert ${migrationId}\`.`);
  }
}

export function store(ctx: ConvertContext): StateStore {
  return { doc: ctx.clients.doc, controlTable: ctx.controlTable, migrationId: ctx.migration.id, dryRun: ctx.dryRun === true };
}

/** The context a run with these settings uses: a dry run reads and writes its own records. */
export function contextFor(ctx: ConvertContext, settings: Partial<BackfillSettings>): ConvertContext {
  return settings.dryRun ? { ...ctx, dryRun: true } : ctx;
}

const defaultOwner = () => `${hostname()}:${process.pid}`;

async function runWithLease(ctx: ConvertContext, run: BackfillRun, lease: Lease, options: ConvertRunOptions): Promise<ConversionResult> {
  try {
    const executions = await runBackfillExecutions(
      {
        doc: ctx.clients.doc,
        loadMigration: async () => ctx.migration,
        ...(ctx.dualWriteLagMs ? { dualWriteLagMs: ctx.dualWriteLagMs } : {}),
        ...(ctx.onPage ? { onPage: ctx.onPage } : {}),
      },
      executionInput(ctx, run),
      options,
    );
    const final = (await readRun(store(ctx))) ?? run;
    const checkpoints = (await readCheckpoints(store(ctx))).filter((c) => c.runId === run.runId);
    return { run: final, totals: totalCounters(checkpoints), executions };
  } finally {
    await lease.release();
  }
}

/** The state machine's input for the run's current execution (the checkpoints are in the control table). */
export function executionInput(ctx: ConvertContext, run: BackfillRun): BackfillExecutionInput {
  return {
    migrationId: ctx.migration.id,
    table: ctx.tableName,
    controlTable: ctx.controlTable,
    runId: run.runId,
    execution: run.executions,
    dryRun: run.settings.dryRun,
  };
}

/**
 * Writes a new run record after checking no unfinished run is in the way (callers hold
 * the lock). A dry run never blocks on, nor replaces, the real run: it has its own record.
 */
export async function newRun(
  ctx: ConvertContext,
  settings: Partial<BackfillSettings>,
  options: { restart?: boolean; runtime?: BackfillRun["runtime"] } = {},
): Promise<BackfillRun> {
  const s = store(ctx);
  const existing = await readRun(s);
  if (existing && !options.restart && !ctx.dryRun && ["running", "paused", "failed"].includes(existing.status)) {
    throw new BackfillUnfinishedError(ctx.migration.id, existing);
  }
  const full: BackfillSettings = { ...DEFAULT_BACKFILL_SETTINGS, ...migrationDefaults(ctx.migration), ...settings };
  const description = await describeTable(ctx.clients.raw, ctx.tableName);
  const now = Date.now();
  const run: BackfillRun = {
    runId: randomUUID(),
    status: "running",
    settings: full,
    effectiveRate: full.rate,
    executions: 1,
    startedAt: now,
    updatedAt: now,
    estimatedItems: description?.ItemCount ?? 0,
    runtime: options.runtime ?? { kind: "local" },
  };
  await writeRun(s, run);
  return run;
}

/** `ferry convert`: starts a new backfill run (refused while one is running or unfinished). */
export async function startConversion(
  base: ConvertContext,
  settings: Partial<BackfillSettings> = {},
  options: ConvertRunOptions & { restart?: boolean } = {},
): Promise<ConversionResult> {
  let ctx = contextFor(base, settings);
  // A table whose keys do not fit the migration is refused before recording a run (a missing table is left to the run, issue 14 item 6).
  const table = await describeTable(ctx.clients.raw, ctx.tableName);
  if (table) ctx = { ...ctx, migration: withTableKeys(ctx.migration, keySchemaOf(table, ctx.tableName), ctx.tableName) };
  await ensureControlTable(ctx.clients.raw, ctx.controlTable);
  const s = store(ctx);
  const lease = await acquireLock(s, options.owner ?? defaultOwner(), { leaseMs: options.leaseMs ?? DEFAULT_LOCK_OPTIONS.leaseMs, waitMs: 0 });
  try {
    const run = await newRun(ctx, settings, { ...(options.restart ? { restart: true } : {}) });
    return await runWithLease(ctx, run, lease, options);
  } catch (err) {
    await lease.release();
    throw err;
  }
}

/** The migration file's tuning, as backfill settings. */
export function migrationDefaults(migration: Migration): Partial<BackfillSettings> {
  return { segments: migration.options.segments, pageSize: migration.options.pageSize, rate: migration.options.rate };
}

/** `ferry resume`: continues the current run from its checkpoints, taking over a lapsed lease. */
export async function resumeConversion(
  ctx: ConvertContext,
  tuning: Partial<Pick<BackfillSettings, "rate" | "pageSize" | "maxDualWriteLagMs">> = {},
  options: ConvertRunOptions = {},
): Promise<ConversionResult> {
  await ensureControlTable(ctx.clients.raw, ctx.controlTable);
  const s = store(ctx);
  const leaseMs = options.leaseMs ?? DEFAULT_LOCK_OPTIONS.leaseMs;
  const lease = await acquireLock(s, options.owner ?? defaultOwner(), { leaseMs, waitMs: options.lockWaitMs ?? leaseMs * 2 });
  try {
    const resumed = await updateRun(s, (run) => ({
      ...run,
      status: "running",
      requested: undefined,
      executions: run.executions + 1,
      settings: { ...run.settings, ...tuning },
      effectiveRate: tuning.rate ?? run.effectiveRate,
    }));
    if (!resumed) throw new NoBackfillError(ctx.migration.id);
    return await runWithLease(ctx, resumed, lease, options);
  } catch (err) {
    await lease.release();
    throw err;
  }
}

/**
 * `ferry pause` / `ferry abort`: asks the running backfill to stop after its current pages.
 * `running` says whether something runs it now; by default, whether a live lease is held
 * (the local runtime); the stage runtime passes whether its execution is RUNNING.
 */
export async function requestStop(ctx: ConvertContext, request: ControlRequest, options: { running?: boolean } = {}): Promise<BackfillRun> {
  const s = store(ctx);
  const lock = options.running === undefined ? await readLock(s) : undefined;
  const holderAlive = options.running ?? (lock !== undefined && lock.leaseUntil > Date.now());
  const run = await updateRun(s, (r) => {
    if (r.status === "completed" || r.status === "aborted") return undefined;
    // Nobody is running it: apply the stop directly instead of waiting for a page to see it.
    if (!holderAlive) return { ...r, status: request === "abort" ? "aborted" : "paused", requested: undefined };
    return { ...r, requested: request };
  });
  if (!run) throw new NoBackfillError(ctx.migration.id);
  return run;
}

/** `ferry convert --rate N` on a running backfill: pages read it within one page. */
export async function changeRate(ctx: ConvertContext, rate: number): Promise<BackfillRun> {
  const run = await updateRun(store(ctx), (r) => ({ ...r, settings: { ...r.settings, rate }, effectiveRate: rate }));
  if (!run) throw new NoBackfillError(ctx.migration.id);
  return run;
}

export interface ConversionStatus {
  run?: BackfillRun;
  checkpoints: SegmentCheckpoint[];
  totals: PageCounters;
  lock?: LockHolder;
  /** Items scanned per second since the run started (progress, ETA), and the remaining-time estimate. */
  itemsPerSecond: number;
  /** Items written per second since the run started (what --rate caps; see rateCountedItems). */
  writtenPerSecond: number;
  etaSeconds?: number;
}

export async function conversionStatus(ctx: ConvertContext): Promise<ConversionStatus> {
  const s = store(ctx);
  const run = await readRun(s);
  const checkpoints = run ? (await readCheckpoints(s)).filter((c) => c.runId === run.runId) : [];
  const totals = totalCounters(checkpoints);
  const lock = await readLock(s);
  const elapsed = run ? ((run.finishedAt ?? Date.now()) - run.startedAt) / 1000 : 0;
  const itemsPerSecond = elapsed > 0 ? totals.scanned / elapsed : 0;
  const writtenPerSecond = elapsed > 0 ? rateCountedItems(totals) / elapsed : 0;
  const remaining = run ? Math.max(0, run.estimatedItems - totals.scanned) : 0;
  return {
    ...(run ? { run } : {}),
    checkpoints,
    totals,
    ...(lock ? { lock } : {}),
    itemsPerSecond,
    writtenPerSecond,
    ...(itemsPerSecond > 0 && run?.status === "running" ? { etaSeconds: remaining / itemsPerSecond } : {}),
  };
}
