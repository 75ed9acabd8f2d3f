/**
 * The stage runtime: drives the deployed backfill state machine with @aws-sdk/client-sfn.
 * convert/resume write the run record (as locally) and StartExecution with the same input
 * the local runner gives the ASL (the checkpoints stay in the control table, so that input
 * is the checkpoint's address); pause is the control request pages already obey; abort is
 * that request plus StopExecution once a short grace period has passed; describe merges
 * DescribeExecution of the run's current execution with the control table's records.
 */
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  type SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from "@aws-sdk/client-sfn";
import { RefusalError } from "../errors.ts";
import { sleep as defaultSleep } from "../util/backoff.ts";
import { acquireLock } from "./lock.ts";
import { type ConvertContext, NoBackfillError, conversionStatus, executionInput, newRun, requestStop, store } from "./control.ts";
import { executionArn, executionName } from "./executions.ts";
import type { BackfillDescription, BackfillRuntime, ExecutionState, ResumeTuning } from "./runtime.ts";
import { type BackfillRun, type RunRuntime, updateRun } from "./state.ts";

export interface StageRuntimeOptions {
  stage: string;
  stateMachineArn: string;
  sfn: SFNClient;
  /** How long an abort lets the pages stop by themselves before StopExecution. */
  abortGraceMs?: number;
  /** How long resume waits for a stopping execution (pause requested) to end. */
  resumeWaitMs?: number;
  pollMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export const DEFAULT_STAGE_RUNTIME = { abortGraceMs: 5_000, resumeWaitMs: 120_000, pollMs: 2_000 } as const;

/** A deployed execution of this migration's backfill is still running. */
export class BackfillExecutionRunningError extends RefusalError {
  readonly guard = "backfill-not-running";
  constructor(
    readonly migrationId: string,
    readonly execution: ExecutionState,
  ) {
    super(
      `A backfill of ${migrationId} is already running on the stage: execution ${execution.arn}` +
        `${execution.startedAt ? ` since ${new Date(execution.startedAt).toISOString()}` : ""}. ` +
        "Use `ferry pause`/`ferry abort` to stop it, or `ferry status` to follow it.",
    );
  }
}

/** The stage runtime (see the file comment). */
export function stageRuntime(options: StageRuntimeOptions): BackfillRuntime {
  const sleep = options.sleep ?? defaultSleep;
  const pollMs = options.pollMs ?? DEFAULT_STAGE_RUNTIME.pollMs;
  const runtimeOf = (): RunRuntime => ({ kind: "stage", stage: options.stage, stateMachineArn: options.stateMachineArn });

  async function describeExecution(arn: string): Promise<ExecutionState> {
    try {
      const out = await options.sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
      return {
        arn,
        status: out.status ?? "UNKNOWN",
        ...(out.startDate ? { startedAt: new Date(out.startDate).getTime() } : {}),
        ...(out.stopDate ? { stoppedAt: new Date(out.stopDate).getTime() } : {}),
        ...(out.error ? { error: out.error } : {}),
        ...(out.cause ? { cause: out.cause } : {}),
      };
    } catch (err) {
      if (err instanceof ExecutionDoesNotExist || (err instanceof Error && err.name === "ExecutionDoesNotExist")) return { arn, status: "NOT_FOUND" };
      throw err;
    }
  }

  /** The run's current execution: number `run.executions`, or the one before while it is still starting its continuation. */
  async function currentExecution(run: BackfillRun): Promise<ExecutionState | undefined> {
    const machine = run.runtime?.stateMachineArn ?? options.stateMachineArn;
    if (run.runtime?.kind !== "stage") return undefined;
    const current = await describeExecution(executionArn(machine, executionName(run.runId, run.executions)));
    if (current.status !== "NOT_FOUND" || run.executions <= 1) return current;
    // Finish counts the next execution before ContinueAsNewExecution starts it.
    const previous = await describeExecution(executionArn(machine, executionName(run.runId, run.executions - 1)));
    return previous.status === "RUNNING" ? previous : current;
  }

  async function describe(ctx: ConvertContext): Promise<BackfillDescription> {
    const status = await conversionStatus(ctx);
    const execution = status.run ? await currentExecution(status.run) : undefined;
    const active = execution?.status === "RUNNING";
    const stale = status.run?.status === "running" && !active && status.run.runtime?.kind === "stage";
    return { ...status, runtime: "stage", active, stale, ...(execution ? { execution } : {}) };
  }

  /** Starts the run's current execution and records its ARN in the run. */
  async function startExecution(ctx: ConvertContext, run: BackfillRun): Promise<{ run: BackfillRun; executionArn: string }> {
    const name = executionName(run.runId, run.executions);
    let arn = executionArn(options.stateMachineArn, name);
    try {
      const out = await options.sfn.send(
        new StartExecutionCommand({ stateMachineArn: options.stateMachineArn, name, input: JSON.stringify(executionInput(ctx, run)) }),
      );
      arn = out.executionArn ?? arn;
    } catch (err) {
      if (!(err instanceof ExecutionAlreadyExists)) {
        await updateRun(store(ctx), (r) =>
          r.runId !== run.runId
            ? undefined
            : { ...r, status: "failed", lastError: { name: (err as Error).name, message: (err as Error).message, at: Date.now() } },
        );
        throw err;
      }
    }
    const recorded = await updateRun(store(ctx), (r) => (r.runId !== run.runId ? undefined : { ...r, runtime: { ...runtimeOf(), executionArn: arn } }));
    return { run: recorded ?? run, executionArn: arn };
  }

  /** Holds the lock only while deciding and starting: the execution itself runs without a lease. */
  async function underLock<T>(ctx: ConvertContext, owner: string | undefined, work: () => Promise<T>): Promise<T> {
    const lease = await acquireLock(store(ctx), owner ?? `ferry-cli:${process.pid}`, { leaseMs: 30_000, waitMs: 0 });
    try {
      return await work();
    } finally {
      await lease.release();
    }
  }

  return {
    kind: "stage",
    inProcess: false,
    async start(base, settings, runOptions = {}) {
      const ctx = settings.dryRun ? { ...base, dryRun: true } : base;
      return underLock(ctx, runOptions.owner, async () => {
        const before = await describe(ctx);
        if (before.active && before.execution) throw new BackfillExecutionRunningError(ctx.migration.id, before.execution);
        const run = await newRun(ctx, settings, { ...(runOptions.restart ? { restart: true } : {}), runtime: runtimeOf() });
        return startExecution(ctx, run);
      });
    },
    async resume(ctx, tuning: ResumeTuning, runOptions = {}) {
      let before = await describe(ctx);
      if (!before.run) throw new NoBackfillError(ctx.migration.id);
      // A pause still taking effect: wait for its execution to end, then continue.
      const deadline = Date.now() + (options.resumeWaitMs ?? DEFAULT_STAGE_RUNTIME.resumeWaitMs);
      while (before.active && before.run?.requested && Date.now() < deadline) {
        await sleep(pollMs);
        before = await describe(ctx);
      }
      if (before.active && before.execution) throw new BackfillExecutionRunningError(ctx.migration.id, before.execution);
      return underLock(ctx, runOptions.owner, async () => {
        const resumed = await updateRun(store(ctx), (run) => ({
          ...run,
          status: "running",
          requested: undefined,
          executions: run.executions + 1,
          settings: { ...run.settings, ...tuning },
          effectiveRate: tuning.rate ?? run.effectiveRate,
          runtime: runtimeOf(),
        }));
        if (!resumed) throw new NoBackfillError(ctx.migration.id);
        return startExecution(ctx, resumed);
      });
    },
    async stop(ctx, request) {
      const before = await describe(ctx);
      let run = await requestStop(ctx, request, { running: before.active });
      if (request !== "abort" || !before.active || !before.execution) return run;
      // Give the pages a moment to see the request and end the execution themselves.
      const deadline = Date.now() + (options.abortGraceMs ?? DEFAULT_STAGE_RUNTIME.abortGraceMs);
      let now = before;
      while (now.active && Date.now() < deadline) {
        await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())));
        now = await describe(ctx);
      }
      if (now.active && now.execution) {
        try {
          await options.sfn.send(
            new StopExecutionCommand({ executionArn: now.execution.arn, error: "FerryAbort", cause: "ferry abort: the backfill was aborted" }),
          );
        } catch (err) {
          if (!(err instanceof ExecutionDoesNotExist)) throw err;
        }
      }
      // The stopped execution cannot run Finish: mark the run aborted here.
      run = (await updateRun(store(ctx), (r) => (r.status === "completed" ? undefined : { ...r, status: "aborted", requested: undefined }))) ?? run;
      return run;
    },
    describe,
  };
}
