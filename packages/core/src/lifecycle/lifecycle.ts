/**
 * The lifecycle as functions, one per transition, over the phases in phases/*: what the
 * CLI commands (add, convert, move, rollback, remove) and tests call. Each goes through the orchestrator,
 * so guards, history and events are the same whichever way a step is taken.
 */
import type { DynamoClients } from "../aws/dynamodb.ts";
import type { BackfillRuntime } from "../backfill/runtime.ts";
import type { BackfillRun } from "../backfill/state.ts";
import type { Migration } from "../definition/define-migration.ts";
import { sourceText } from "../definition/source.ts";
import { addPhase, type AddPhaseOptions } from "./phases/add.ts";
import { convertPhase, convertPhaseOn, type ConvertPhaseOptions } from "./phases/convert.ts";
import { designPhase } from "./phases/design.ts";
import { movePhase, type MovePhaseOptions } from "./phases/move.ts";
import { defaultBackupKind, removeGuards, removePhase, type RemovePhaseOptions } from "./phases/remove.ts";
import { defaultControlTableName } from "../control/control-table.ts";
import type { StepListener } from "./events.ts";
import { completeStep, type ForceOptions, readState, rollbackMigration, runStep } from "./orchestrator.ts";
import { DEFAULT_GUARD_OPTIONS, type GuardOptions } from "./options.ts";
import type { LifecycleContext, RollbackOptions, RollbackPhase } from "./phase.ts";

export interface LifecycleContextInput {
  clients: DynamoClients;
  tableName: string;
  controlTable?: string;
  migration: Migration;
  actor: string;
  guards?: Partial<GuardOptions>;
  listeners?: StepListener[];
}

/** A context with the defaults filled in (control table `<table>.ferry`, DEFAULT_GUARD_OPTIONS). */
export function lifecycleContext(input: LifecycleContextInput): LifecycleContext {
  return {
    clients: input.clients,
    tableName: input.tableName,
    controlTable: input.controlTable ?? defaultControlTableName(input.tableName),
    migration: input.migration,
    actor: input.actor,
    guards: { ...DEFAULT_GUARD_OPTIONS, ...input.guards },
    ...(input.listeners ? { listeners: input.listeners } : {}),
  };
}

/**
 * The phases rollback undoes, in step order (remove is not among them: it cannot be rolled
 * back); the convert phase stops the backfill on `runtime` (default: this process's).
 */
export function rollbackPhases(runtime?: BackfillRuntime): RollbackPhase[] {
  return [designPhase, addPhase, runtime ? convertPhaseOn(runtime) : convertPhase, movePhase];
}

export const ROLLBACK_PHASES: readonly RollbackPhase[] = rollbackPhases();

export const designStep = (ctx: LifecycleContext) => runStep(ctx, designPhase, {});
export const addStep = (ctx: LifecycleContext, options: AddPhaseOptions = {}) => runStep(ctx, addPhase, options);
export const convertStep = (ctx: LifecycleContext, options: ConvertPhaseOptions = {}, force: ForceOptions = {}) =>
  runStep(ctx, convertPhase, { ...options, ...(force.force ? { force: true } : {}) }, force);
export const moveStep = (ctx: LifecycleContext, options: MovePhaseOptions, force: ForceOptions = {}) =>
  runStep(ctx, movePhase, { ...options, ...(force.force ? { force: true } : {}) }, force);
export const removeStep = (ctx: LifecycleContext, options: Partial<RemovePhaseOptions> = {}) => runStep(ctx, removePhase, options);

/**
 * Records the convert step complete once a run that went on after the step's start (a
 * stage's execution followed with `--wait`, a run continued by `ferry resume`) completed.
 * Records nothing (undefined) unless the run completed and the migration's current step is
 * a started, not yet completed convert (not rolled back or removed since).
 */
export async function completeConvert(ctx: LifecycleContext, run: BackfillRun) {
  if (run.status !== "completed" || run.settings.dryRun) return undefined;
  const state = await readState(ctx);
  if (state?.step !== "convert" || (state.status && state.status !== "active")) return undefined;
  const last = [...state.history].reverse().find((h) => h.step === "convert");
  if (!last || (last.event ?? "start") !== "start") return undefined;
  return completeStep(ctx, "convert", {}, { runId: run.runId });
}

/** Rollback options, plus where the backfill runs (a stage's runtime stops its execution; default this process's). */
export interface RollbackStepOptions extends RollbackOptions {
  runtime?: BackfillRuntime;
}

export const rollbackStep = (ctx: LifecycleContext, options: RollbackStepOptions = {}, force: ForceOptions = {}) =>
  rollbackMigration(ctx, { phases: rollbackPhases(options.runtime), guard: addPhase }, options, force);

/** What `ferry remove` without --confirm shows: the guards as they stand and what it would do. */
export async function removePlan(ctx: LifecycleContext, options: Partial<RemovePhaseOptions> = {}) {
  const state = await readState(ctx);
  const refusals = await removeGuards(ctx, state);
  return {
    migrationId: ctx.migration.id,
    tableName: ctx.tableName,
    step: state?.step ?? null,
    ready: refusals.length === 0,
    refusals: refusals.map((r) => ({ guard: r.guard, message: r.message })),
    actions: [
      "mark v1 retired: v1 routes answer 410 Gone, unversioned routes serve v2",
      ...(ctx.migration.cleanup
        ? [
            options.backup === "none"
              ? "take no backup (--backup none)"
              : (options.backup ?? defaultBackupKind(ctx)) === "file"
                ? `back up every affected item to a JSON-lines file in ${options.backupDir ?? "./.ferry/backups"}`
                : `create an on-demand backup of ${ctx.tableName} (CreateBackup) and record its ARN`,
            ...(ctx.migration.cleanup.removeAttributes
              ? [
                  `remove ${ctx.migration.cleanup.removeAttributes.join(", ")} from every source item (${sourceText(ctx.migration)}), only where unchanged since read`,
                ]
              : []),
            ...(ctx.migration.cleanup.deleteSourceItems
              ? [`delete every migrated source item (${sourceText(ctx.migration)}) from ${ctx.tableName}, only where unchanged since read`]
              : []),
          ]
        : ["no cleanup: the migration declares none"]),
      "keep the dual-write running: it maintains the new records",
    ],
  };
}
