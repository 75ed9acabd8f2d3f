/**
 * Runs lifecycle transitions: checks the step's guards, refuses with the first failing
 * guard (exit code 3) unless every failing guard may be overridden and `--force --reason`
 * was given, persists the step and its history (time, actor, reason, overridden guards)
 * in the migration's state record, runs the step, records its completion, and emits each
 * transition as an event. Rollback runs the phases' rollbacks in reverse step order.
 */
import { migrationOnTable } from "../definition/table-keys.ts";
import { type MigrationState, readMigrationState, recordStep } from "../control/migration-state.ts";
import { unlessMissingTable } from "../dynamo/missing-table.ts";
import { ensureControlTable } from "../control/control-table.ts";
import { RefusalError } from "../errors.ts";
import { ForceWithoutReasonError, type GuardRefusedError, MigrationRemovedError, NeverAddedError } from "./guards.ts";
import {
  type LifecycleContext,
  type Phase,
  type RollbackGuard,
  type RollbackOptions,
  type RollbackPhase,
  type PhaseRollback,
  type StepName,
  clockOf,
  controlLocation,
  emit,
} from "./phase.ts";

/** `--force --reason`. */
export interface ForceOptions {
  force?: boolean;
  reason?: string;
}

export interface StepOutcome<Result> {
  state: MigrationState;
  result: Result;
  completed: boolean;
  /** Guards overridden with --force. */
  forced: string[];
}

/** The state record, or undefined when the control table or record does not exist yet. */
export async function readState(ctx: LifecycleContext): Promise<MigrationState | undefined> {
  return unlessMissingTable(readMigrationState(controlLocation(ctx)), undefined);
}

/** Throws the refusal, or returns the overridden guards' names when --force may override them. */
export function enforce(ctx: LifecycleContext, step: string, failures: GuardRefusedError[], force: ForceOptions): string[] {
  if (failures.length === 0) return [];
  const binding = failures.find((f) => !f.forceable) ?? (force.force ? undefined : failures[0]);
  if (binding) {
    emit(ctx, step, "refused", { guard: binding.guard });
    throw binding;
  }
  if (!force.reason?.trim()) throw new ForceWithoutReasonError();
  return failures.map((f) => f.guard);
}

/**
 * Runs `work` (a step's start, or a command acting on one, such as resume), emitting a
 * `refused` event for `step` when it throws a refusal (a stream that is off, a backfill that
 * already runs), as for a guard.
 */
export async function refusing<T>(ctx: LifecycleContext, step: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof RefusalError) emit(ctx, step, "refused", { guard: err.guard });
    throw err;
  }
}

/** The context with its migration bound to the table's key schema (DescribeTable, cached; see definition/table-keys.ts). */
export async function onTable(ctx: LifecycleContext): Promise<LifecycleContext> {
  const migration = await migrationOnTable(ctx.clients.raw, ctx.migration, ctx.tableName);
  return migration === ctx.migration ? ctx : { ...ctx, migration };
}

/** Validates, records, runs and (when done) completes one step. */
export async function runStep<Options, Result>(
  ctx: LifecycleContext,
  phase: Phase<Options, Result>,
  options: Options,
  force: ForceOptions = {},
): Promise<StepOutcome<Result>> {
  if (force.force && !force.reason?.trim()) throw new ForceWithoutReasonError();
  // Before anything is written (the control table included): a table whose keys do not fit is refused here.
  ctx = await onTable(ctx);
  await ensureControlTable(ctx.clients.raw, ctx.controlTable);
  const before = await readState(ctx);
  const forced = enforce(ctx, phase.step, await phase.validate(ctx, before, options), force);
  const location = controlLocation(ctx);
  const reason = force.reason?.trim() || undefined;
  let state: MigrationState | undefined;
  const record = async (patch: Partial<MigrationState> = {}) => {
    state = await recordStep(
      location,
      { step: phase.step, actor: ctx.actor, event: "start", ...(reason ? { reason } : {}), ...(forced.length ? { forced } : {}) },
      () => patch,
      clockOf(ctx),
    );
    emit(ctx, phase.step, "start", { ...(reason ? { reason } : {}), ...(forced.length ? { forced } : {}) });
    return state;
  };
  const result = await refusing(ctx, phase.step, () => phase.start(ctx, options, record));
  const completed = await phase.isComplete(ctx, result);
  if (completed) state = await completeStep(ctx, phase.step, phase.completedStatus ? { status: phase.completedStatus } : {});
  return { state: state ?? (await readState(ctx)) ?? (before as MigrationState), result, completed, forced };
}

/** Records that `step` is done (history entry "complete", `completed[step]`). */
export async function completeStep(
  ctx: LifecycleContext,
  step: StepName,
  patch: Partial<MigrationState> = {},
  detail?: Record<string, unknown>,
): Promise<MigrationState> {
  const state = await recordStep(controlLocation(ctx), { step, actor: ctx.actor, event: "complete" }, () => patch, clockOf(ctx));
  emit(ctx, step, "complete", detail ? { detail } : {});
  return state;
}

export interface RollbackOutcome {
  state: MigrationState;
  /** What each phase's rollback did, in the order run. */
  phases: PhaseRollback[];
  /** The migration had been rolled back before (this run repeated it, harmlessly). */
  again: boolean;
  /** The delete sweep was stopped midway (status stays rolling-back; run rollback again to finish). */
  stopped: boolean;
  forced: string[];
}

/**
 * `ferry rollback`: from any step before remove, rolls every phase back in reverse order
 * (move: traffic to v1; convert: stop the backfill; add: delete the derived records) and
 * marks the migration rolled back. Repeating it is harmless: each part does only what is left.
 */
export async function rollbackMigration(
  ctx: LifecycleContext,
  phases: { phases: readonly RollbackPhase[]; guard: RollbackGuard },
  options: RollbackOptions = {},
  force: ForceOptions = {},
): Promise<RollbackOutcome> {
  if (force.force && !force.reason?.trim()) throw new ForceWithoutReasonError();
  ctx = await onTable(ctx);
  const before = await readState(ctx);
  if (before && removedNow(before)) {
    emit(ctx, "rollback", "refused", { guard: "removed" });
    throw new MigrationRemovedError(ctx.migration.id, "rollback");
  }
  // Never added: nothing to undo, and no "rolled back" state to record for it.
  if (!before?.history.some((h) => h.step === "add")) {
    emit(ctx, "rollback", "refused", { guard: "added" });
    throw new NeverAddedError(ctx.migration.id);
  }
  const forced = enforce(ctx, "rollback", await phases.guard.validateRollback(ctx), force);
  for (const phase of phases.phases) await phase.assertRollbackPossible?.(ctx);
  const reason = force.reason?.trim() || undefined;
  const again = before?.status === "rolled-back";
  const location = controlLocation(ctx);
  await recordStep(
    location,
    { step: "rollback", actor: ctx.actor, event: "start", ...(reason ? { reason } : {}), ...(forced.length ? { forced } : {}) },
    () => ({ status: "rolling-back" }),
    clockOf(ctx),
  );
  emit(ctx, "rollback", "start", { ...(reason ? { reason } : {}), ...(forced.length ? { forced } : {}), detail: { from: before?.step ?? null } });
  const done: RollbackOutcome["phases"] = [];
  for (const phase of [...phases.phases].reverse()) {
    const did = await phase.rollback(ctx, options);
    // Each phase's rollback returns its own step's result (phase.ts, RollbackResults).
    done.push({ step: phase.step, did } as PhaseRollback);
    emit(ctx, phase.step, "rollback", { detail: { ...did } });
  }
  const stopped = done.some((d) => d.did.stopped === true);
  if (stopped) {
    const state = (await readState(ctx)) as MigrationState;
    return { state, phases: done, again, stopped, forced };
  }
  const state = await recordStep(location, { step: "rollback", actor: ctx.actor, event: "complete" }, () => ({ status: "rolled-back" }), clockOf(ctx));
  emit(ctx, "rollback", "complete");
  return { state, phases: done, again, stopped, forced };
}

/**
 * True while the remove step stands: removing or removed, or a remove in the history that no
 * later `ferry unretire` undid.
 */
export function removedNow(state: MigrationState): boolean {
  if (state.status === "removing" || state.status === "removed") return true;
  const last = (step: string) => state.history.map((h) => h.step).lastIndexOf(step);
  return last("remove") > last("unretire");
}
