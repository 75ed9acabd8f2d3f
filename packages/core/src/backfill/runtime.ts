/**
 * One command surface, two runtimes: `ferry convert/resume/pause/abort/status` talk to a
 * BackfillRuntime. The local one runs the state machine in this process (aws-local-
 * stepfunctions); the stage one (remote.ts) drives the deployed state machine with
 * StartExecution / StopExecution / DescribeExecution. Both keep the run, the control
 * requests and the checkpoints in the control table, so status reads the same records.
 */
import type { ControlRequest } from "./state.ts";
import type { BackfillRun } from "./state.ts";
import type { BackfillSettings } from "./settings.ts";
import {
  type ConversionResult,
  type ConversionStatus,
  type ConvertContext,
  type ConvertRunOptions,
  conversionStatus,
  requestStop,
  resumeConversion,
  startConversion,
} from "./control.ts";

/** A deployed execution, as DescribeExecution tells it. */
export interface ExecutionState {
  arn: string;
  /** RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE; NOT_FOUND if it does not exist (yet). */
  status: string;
  startedAt?: number;
  stoppedAt?: number;
  error?: string;
  cause?: string;
}

/** The backfill's state: the control table's run and checkpoints, plus what runs it now. */
export interface BackfillDescription extends ConversionStatus {
  runtime: "local" | "stage";
  /** Something runs the backfill now: a live lease (local) or a RUNNING execution (stage). */
  active: boolean;
  /** The run's current execution on a stage. */
  execution?: ExecutionState;
  /** The run says running but nothing runs it (a crashed process, an execution that ended): `ferry resume` continues it. */
  stale: boolean;
}

/** What start/resume give back: the run, and the result when it ran to its end in this process. */
export interface RuntimeOutcome {
  run: BackfillRun;
  /** Local: the finished run's totals and executions. */
  result?: ConversionResult;
  /** Stage: the execution just started. */
  executionArn?: string;
}

export type ResumeTuning = Partial<Pick<BackfillSettings, "rate" | "pageSize" | "maxDualWriteLagMs">>;

export interface BackfillRuntime {
  readonly kind: "local" | "stage";
  /** start/resume run the backfill here until it ends (local), or return once it started (stage). */
  readonly inProcess: boolean;
  start(ctx: ConvertContext, settings: Partial<BackfillSettings>, options?: ConvertRunOptions & { restart?: boolean }): Promise<RuntimeOutcome>;
  resume(ctx: ConvertContext, tuning: ResumeTuning, options?: ConvertRunOptions): Promise<RuntimeOutcome>;
  /** Pause or abort: pages stop after their current one; a stage abort also stops the execution. */
  stop(ctx: ConvertContext, request: ControlRequest): Promise<BackfillRun>;
  describe(ctx: ConvertContext): Promise<BackfillDescription>;
}

/** The in-process runtime (DynamoDB Local or a table on AWS, the state machine run here). */
export function localRuntime(): BackfillRuntime {
  return {
    kind: "local",
    inProcess: true,
    async start(ctx, settings, options = {}) {
      const result = await startConversion(ctx, settings, options);
      return { run: result.run, result };
    },
    async resume(ctx, tuning, options = {}) {
      const result = await resumeConversion(ctx, tuning, options);
      return { run: result.run, result };
    },
    stop: (ctx, request) => requestStop(ctx, request),
    async describe(ctx) {
      const status = await conversionStatus(ctx);
      const active = status.lock !== undefined && status.lock.leaseUntil > Date.now();
      // A run started on a stage is not this runtime's to judge: `--stage` describes its execution.
      const elsewhere = status.run?.runtime?.kind === "stage";
      return { ...status, runtime: "local", active, stale: status.run?.status === "running" && !active && !elsewhere };
    },
  };
}
