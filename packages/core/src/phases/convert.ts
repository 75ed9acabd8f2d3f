/**
 * Step 3, convert, as a lifecycle phase: guard "dual-write live" (its heartbeat is younger
 * than `maxHeartbeatAgeMs`; otherwise items changed during the backfill would be missed),
 * start runs (or resumes) the backfill of backfill/control.ts in this process, complete
 * means the backfill run completed, rollback aborts a running backfill and waits until it
 * has stopped (its lease released), so no page writes after the rollback deleted records.
 */
import { type ConversionResult, type ConvertContext, type ConvertRunOptions, requestStop, resumeConversion, startConversion } from "../backfill/control.ts";
import { readLock } from "../backfill/lock.ts";
import type { BackfillSettings } from "../backfill/settings.ts";
import { type BackfillRun, readRun } from "../backfill/state.ts";
import { DualWriteNotLiveError, MigrationRemovedError, MigrationRolledBackError, StepOrderError } from "../orchestrator/guards.ts";
import { DEFAULT_STOP_TIMEOUT_MS, type LifecycleContext, type Phase } from "../orchestrator/phase.ts";
import { readHeartbeat } from "../runtime/heartbeat.ts";
import { FerryError } from "../errors.ts";
import { sleep } from "../util/backoff.ts";
import type { MigrationState } from "./add.ts";

export interface ConvertPhaseOptions {
  settings?: Partial<BackfillSettings>;
  run?: ConvertRunOptions & { restart?: boolean };
  /** Continue the current run from its checkpoints instead of starting one. */
  resume?: boolean;
}

/** The backfill context of a lifecycle context. */
export function convertContext(ctx: LifecycleContext): ConvertContext {
  return { clients: ctx.clients, tableName: ctx.tableName, controlTable: ctx.controlTable, migration: ctx.migration };
}

const store = (ctx: LifecycleContext) => ({ doc: ctx.clients.doc, controlTable: ctx.controlTable, migrationId: ctx.migration.id });

/** The real (not dry) backfill run, or undefined before the first convert. */
export async function backfillRun(ctx: LifecycleContext): Promise<BackfillRun | undefined> {
  return readRun(store(ctx)).catch((err: unknown) => {
    if (err instanceof Error && err.name === "ResourceNotFoundException") return undefined;
    throw err;
  });
}

/** Step order shared by convert, move and remove: added, not rolled back, not removed. */
export function orderGuards(ctx: LifecycleContext, state: MigrationState | undefined, step: string, allowRemoved = false) {
  if (!state || !state.history.some((h) => h.step === "add")) return [new StepOrderError(ctx.migration.id, step, "add")];
  if (state.status === "rolled-back" || state.status === "rolling-back") return [new MigrationRolledBackError(ctx.migration.id, step)];
  if (!allowRemoved && (state.status === "removing" || state.status === "removed")) return [new MigrationRemovedError(ctx.migration.id, step)];
  return [];
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

export const convertPhase: Phase<ConvertPhaseOptions, ConversionResult> = {
  step: "convert",
  async validate(ctx, state) {
    const order = orderGuards(ctx, state, "convert");
    if (order.length) return order;
    const beat = await readHeartbeat(ctx.clients.doc, ctx.controlTable, ctx.migration.id);
    const age = beat ? ctx.guards.now() - beat.appliedAt : undefined;
    return age === undefined || age > ctx.guards.maxHeartbeatAgeMs ? [new DualWriteNotLiveError(ctx.migration.id, age, ctx.guards.maxHeartbeatAgeMs)] : [];
  },
  async start(ctx, options, record) {
    await record();
    const base = convertContext(ctx);
    return options.resume ? resumeConversion(base, options.settings ?? {}, options.run ?? {}) : startConversion(base, options.settings ?? {}, options.run ?? {});
  },
  isComplete: (_ctx, result) => result.run.status === "completed",
  async rollback(ctx, options) {
    const before = await backfillRun(ctx);
    if (!before || before.status === "completed" || before.status === "aborted") return { backfill: before?.status ?? "none" };
    await requestStop(convertContext(ctx), "abort");
    const timeout = options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    const deadline = Date.now() + timeout;
    for (;;) {
      const run = await backfillRun(ctx);
      const lock = await readLock(store(ctx));
      const held = lock !== undefined && lock.leaseUntil > Date.now();
      if (!held && run?.status !== "running") return { backfill: "aborted", was: before.status };
      // Its holder died meanwhile: nobody will see the request, apply it directly.
      if (!held && run?.status === "running") await requestStop(convertContext(ctx), "abort");
      if (Date.now() > deadline) throw new BackfillDidNotStopError(ctx.migration.id, timeout);
      await sleep(100);
    }
  },
};
