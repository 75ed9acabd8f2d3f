/**
 * Step 3, convert, as a lifecycle phase: guard "dual-write live" (its heartbeat is younger
 * than `maxHeartbeatAgeMs`, or it applies a liveness ping within `probeTimeoutMs`; otherwise
 * items changed during the backfill would be missed),
 * start runs (or resumes) the backfill on a BackfillRuntime (this process by default, or a
 * stage's deployed state machine), complete means the backfill run completed (a stage's run
 * started without waiting is not), rollback aborts a running backfill on its runtime (on a
 * stage: the control request, then StopExecution) and waits until it has stopped (lease
 * released, execution ended), so no page writes after the rollback deleted records.
 */
import {
  BackfillUnfinishedError,
  type ConversionResult,
  type ConvertContext,
  type ConvertRunOptions,
  NoBackfillError,
  conversionStatus,
} from "../../backfill/control.ts";
import { BackfillLockedError } from "../../backfill/lock.ts";
import { BackfillExecutionRunningError } from "../../backfill/remote.ts";
import { type BackfillRuntime, localRuntime } from "../../backfill/runtime.ts";
import type { BackfillSettings } from "../../backfill/settings.ts";
import type { BackfillRun } from "../../backfill/state.ts";
import { DualWriteNotLiveError, backfillRun, orderGuards } from "../guards.ts";
import { type ConvertRollback, DEFAULT_STOP_TIMEOUT_MS, type LifecycleContext, type Phase, type RollbackOptions } from "../phase.ts";
import { readHeartbeat, stoppedSinceApplied } from "../../dualwrite/heartbeat.ts";
import { probeDualWrite } from "../../dualwrite/liveness.ts";
import { FerryError, UsageError } from "../../errors.ts";
import { sleep } from "../../util/backoff.ts";
import { unlessMissingTable } from "../../dynamo/missing-table.ts";

export interface ConvertPhaseOptions {
  settings?: Partial<BackfillSettings>;
  run?: ConvertRunOptions & { restart?: boolean };
  /** Continue the current run from its checkpoints instead of starting one. */
  resume?: boolean;
  /** Where the backfill runs (default localRuntime(): in this process, to its end). */
  runtime?: BackfillRuntime;
  /** Hooks of the backfill context (e.g. the CLI's page trace). */
  hooks?: Pick<ConvertContext, "onPage" | "dualWriteLagMs">;
  /**
   * --force was given: with no fresh heartbeat the dual-write guard is overridden (and
   * recorded) at once, without waiting out a liveness probe whose answer would not change that.
   */
  force?: boolean;
  /** Called as a liveness probe starts (the CLI says it waits, and how long at most). */
  onProbe?: (timeoutMs: number) => void;
}

/** What the convert step's start gives back: the run (with its totals so far) and where it runs. */
export interface ConvertStepResult extends ConversionResult {
  runtime: BackfillRuntime["kind"];
  /** On a stage: the execution just started (the run goes on there; the step is complete once it completed). */
  executionArn?: string;
}

/** What a `ferry convert` request does (convertAction). */
export type ConvertAction = { kind: "change-rate"; rate: number } | { kind: "dry-run" } | { kind: "step" };

/**
 * The convert policy. Settings that give only a rate, while a backfill of the migration runs
 * (under a live lease or as a stage's execution), change its rate live: not a step, no guard.
 * A dry run writes nothing, so it is not a step either (no guard, no history entry). Anything
 * else is the convert step.
 */
export async function convertAction(
  base: ConvertContext,
  runtime: BackfillRuntime,
  request: { settings: Partial<BackfillSettings>; restart?: boolean },
): Promise<ConvertAction> {
  if (request.settings.dryRun) return { kind: "dry-run" };
  const given = Object.entries(request.settings)
    .filter(([, v]) => v !== undefined)
    .map(([k]) => k);
  const rate = request.settings.rate;
  if (rate === undefined || request.restart || given.length !== 1) return { kind: "step" };
  // Before the first convert the control table does not exist yet: nothing is running.
  const status = await unlessMissingTable(runtime.describe(base), undefined);
  return status?.run?.status === "running" && status.active ? { kind: "change-rate", rate } : { kind: "step" };
}

/** The backfill context of a lifecycle context. */
export function convertContext(ctx: LifecycleContext): ConvertContext {
  return { clients: ctx.clients, tableName: ctx.tableName, controlTable: ctx.controlTable, migration: ctx.migration };
}

/** Rollback without --stage found the backfill running as a stage's execution, which only that stage's runtime can stop. */
export class BackfillRunsOnStageError extends UsageError {
  constructor(
    readonly migrationId: string,
    readonly stage: string,
  ) {
    super(
      `The backfill of ${migrationId} runs on stage ${stage} (a Step Functions execution); stopping it needs StopExecution there. ` +
        `Run \`ferry rollback ${migrationId} --stage ${stage}\`.`,
    );
  }
}

/** Throws what the runtime's start would throw when a backfill runs, or (without restart) an unfinished run is in the way. */
async function refuseIfBusy(ctx: LifecycleContext, runtime: BackfillRuntime, base: ConvertContext, restart: boolean): Promise<void> {
  // Before the first convert the control table may not exist: nothing is in the way. Any other
  // failed read stops the command: passing on it could start a second backfill beside a running one.
  const described = await unlessMissingTable(runtime.describe(base), undefined);
  const run = described?.run;
  if (!described || !run) return;
  if (described.active && described.execution) throw new BackfillExecutionRunningError(ctx.migration.id, described.execution);
  if (described.active && described.lock) throw new BackfillLockedError(ctx.migration.id, described.lock);
  if (!restart && ["running", "paused", "failed"].includes(run.status)) throw new BackfillUnfinishedError(ctx.migration.id, run);
}

/** A running backfill did not stop within the timeout. */
export class BackfillDidNotStopError extends FerryError {
  constructor(
    readonly migrationId: string,
    readonly timeoutMs: number,
  ) {
    super(
      `The backfill of ${migrationId} was asked to abort but still runs after ${Math.round(timeoutMs / 1000)} s. ` +
        "Stop its process (or the stage's execution), then run rollback again: it continues where it stopped.",
    );
  }
}

export const convertPhase: Phase<ConvertPhaseOptions, ConvertStepResult> = {
  step: "convert",
  async validate(ctx, state, options) {
    const order = orderGuards(ctx, state, "convert");
    if (order.length) return order;
    const beat = await readHeartbeat(ctx.clients.doc, ctx.controlTable, ctx.migration.id);
    const age = beat ? ctx.guards.now() - beat.appliedAt : undefined;
    // A clean stop after the last applied change: the young heartbeat is a stopped dual-write's.
    const stop = beat && stoppedSinceApplied(beat) ? { at: beat.stoppedAt as number, by: beat.stoppedBy ?? "unknown" } : undefined;
    if (!stop && age !== undefined && age <= ctx.guards.maxHeartbeatAgeMs) return [];
    // No recent change applied: an idle table looks the same as a stopped dual-write, so ask it
    // (unless --force overrides the guard anyway, or probes are off).
    if (options.force || ctx.guards.probeTimeoutMs <= 0)
      return [new DualWriteNotLiveError(ctx.migration.id, age, ctx.guards.maxHeartbeatAgeMs, undefined, stop)];
    const target = { clients: ctx.clients, tableName: ctx.tableName, controlTable: ctx.controlTable, migration: ctx.migration };
    options.onProbe?.(ctx.guards.probeTimeoutMs);
    const probe = await probeDualWrite(target, { timeoutMs: ctx.guards.probeTimeoutMs });
    if (probe.live) return [];
    return [new DualWriteNotLiveError(ctx.migration.id, age, ctx.guards.maxHeartbeatAgeMs, probe.streamOff ? "stream-off" : probe.waitedMs, stop)];
  },
  async start(ctx, options, record) {
    const runtime = options.runtime ?? localRuntime();
    const base: ConvertContext = { ...convertContext(ctx), ...options.hooks };
    // A convert that cannot start (one already runs, or an unfinished run is in the way) must leave no history entry.
    if (!options.resume) await refuseIfBusy(ctx, runtime, base, options.run?.restart === true);
    await record();
    const outcome = options.resume
      ? await runtime.resume(base, options.settings ?? {}, options.run ?? {})
      : await runtime.start(base, options.settings ?? {}, options.run ?? {});
    const arn = outcome.executionArn ? { executionArn: outcome.executionArn } : {};
    if (outcome.result) return { ...outcome.result, runtime: runtime.kind, ...arn };
    // Started elsewhere (a stage): the totals so far, from the checkpoints.
    const { totals } = await conversionStatus(base);
    return { run: outcome.run, totals, executions: [], runtime: runtime.kind, ...arn };
  },
  isComplete: (_ctx, result) => result.run.status === "completed",
  ...rollbackOn(localRuntime()),
};

/** The convert phase whose rollback stops the backfill on `runtime` (a stage's: control request, then StopExecution). */
export function convertPhaseOn(runtime: BackfillRuntime): Phase<ConvertPhaseOptions, ConvertStepResult> {
  return { ...convertPhase, ...rollbackOn(runtime) };
}

/** The convert phase's rollback and its precheck, both against the backfill on `runtime`. */
function rollbackOn(runtime: BackfillRuntime): Pick<Phase, "rollback" | "assertRollbackPossible"> {
  return {
    rollback: (ctx, options) => stopBackfill(ctx, options, runtime),
    assertRollbackPossible: async (ctx) => assertStoppableOn(ctx, await backfillRun(ctx), runtime),
  };
}

/** Throws BackfillRunsOnStageError when `run` executes on a stage and `runtime` is not a stage's. */
function assertStoppableOn(ctx: LifecycleContext, run: BackfillRun | undefined, runtime: BackfillRuntime): void {
  const onStage = run?.runtime?.kind === "stage" ? run.runtime : undefined;
  if (onStage && runtime.kind !== "stage" && run?.status === "running") throw new BackfillRunsOnStageError(ctx.migration.id, onStage.stage ?? "?");
}

/** Aborts a running backfill on `runtime` and waits until nothing runs it (no live lease, no RUNNING execution). */
async function stopBackfill(ctx: LifecycleContext, options: RollbackOptions, runtime: BackfillRuntime): Promise<ConvertRollback> {
  const before = await backfillRun(ctx);
  if (!before || before.status === "completed" || before.status === "aborted") return { backfill: before?.status ?? "none" };
  assertStoppableOn(ctx, before, runtime);
  const base = convertContext(ctx);
  // It may end by itself meanwhile (completed, aborted elsewhere): then there is nothing to stop.
  const abort = () =>
    runtime.stop(base, "abort").catch((err: unknown) => {
      if (!(err instanceof NoBackfillError)) throw err;
    });
  await abort();
  const timeout = options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
  const deadline = Date.now() + timeout;
  for (;;) {
    const now = await runtime.describe(base);
    if (!now.active && now.run?.status !== "running") {
      return { backfill: "aborted", was: before.status, ...(now.execution ? { execution: now.execution.arn, executionStatus: now.execution.status } : {}) };
    }
    // Its holder died (or its execution ended) meanwhile: nobody will see the request, apply it directly.
    if (!now.active) await abort();
    if (Date.now() > deadline) throw new BackfillDidNotStopError(ctx.migration.id, timeout);
    await sleep(100);
  }
}
