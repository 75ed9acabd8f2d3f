/**
 * The shape every lifecycle step shares, after pgroll's operations (Validate, Start,
 * Complete, Rollback): `validate` returns the guards that refuse the step (it never
 * throws for a guard, so the orchestrator can refuse or record an override), `start` does
 * the step's work, `isComplete` says whether the work is done (a backfill can end later,
 * a move may stop at a canary percentage), `rollback` undoes the step's effect.
 */
import type { DynamoClients } from "../aws/dynamodb.ts";
import type { Migration } from "../definition/define-migration.ts";
import { type LifecycleStatus, type MigrationState, patchState } from "../control/migration-state.ts";
import type { ControlLocation } from "../control/keys.ts";
import { type StepEvent, type StepListener, emitStep } from "./events.ts";
import type { GuardRefusedError } from "../errors.ts";
import type { GuardOptions } from "./options.ts";

/** The five steps, in order. */
export const STEPS = ["design", "add", "convert", "move", "remove"] as const;
export type StepName = (typeof STEPS)[number];

/** Everything a phase needs: where the migration lives, who acts, the guard thresholds. */
export interface LifecycleContext {
  clients: DynamoClients;
  tableName: string;
  controlTable: string;
  migration: Migration;
  /** Who takes the step (`--actor`), kept in the history. */
  actor: string;
  guards: GuardOptions;
  /** Step events (`--events`). */
  listeners?: StepListener[];
}

/** Where the context's migration keeps its control records (state, release, backfill). */
export function controlLocation(ctx: LifecycleContext): ControlLocation {
  return { doc: ctx.clients.doc, controlTable: ctx.controlTable, migrationId: ctx.migration.id };
}

/** The context's clock, as a Date (guards and records read the same time). */
export function clockOf(ctx: LifecycleContext): () => Date {
  return () => new Date(ctx.guards.now());
}

/** Emits a transition of `ctx.migration` to the context's listeners. */
export function emit(ctx: LifecycleContext, step: string, event: StepEvent["event"], extra: Partial<StepEvent> = {}): void {
  emitStep(ctx.listeners, { type: "ferry.step", migrationId: ctx.migration.id, step, event, at: clockOf(ctx)().toISOString(), actor: ctx.actor, ...extra });
}

/** Merges fields into the migration's state record without a history entry (evidence such as a verify result). */
export function patchStateOf(ctx: LifecycleContext, patch: Partial<MigrationState>): Promise<MigrationState> {
  return patchState(controlLocation(ctx), patch, clockOf(ctx));
}

/** Writes the step's start entry (with the orchestrator's reason and overridden guards), merging `patch` into the state. */
export type RecordStart = (patch?: Partial<MigrationState>) => Promise<MigrationState>;

export interface Phase<Options = unknown, Result = unknown> {
  readonly step: StepName;
  /** The migration's status once the step completed (default: unchanged). */
  readonly completedStatus?: LifecycleStatus;
  /** The guards that refuse starting this step now (empty: it may start). */
  validate(ctx: LifecycleContext, state: MigrationState | undefined, options: Options): Promise<GuardRefusedError[]>;
  /** Does the step's work; calls `record` once it is committed to (most phases first thing). */
  start(ctx: LifecycleContext, options: Options, record: RecordStart): Promise<Result>;
  /** Whether the step's work is done after `start` returned `result`. */
  isComplete(ctx: LifecycleContext, result: Result): Promise<boolean> | boolean;
  /** Undoes the step's effect on the table and traffic; returns what it did. */
  rollback(ctx: LifecycleContext, options: RollbackOptions): Promise<RollbackResult>;
  /**
   * Throws when this runtime cannot roll the step back at all (the convert phase: a backfill
   * running on a stage, without `--stage`). Checked for every phase before the rollback is
   * recorded, so a rollback that cannot finish changes nothing, traffic included.
   */
  assertRollbackPossible?(ctx: LifecycleContext): Promise<void>;
}

/** What the design phase's rollback did: nothing (the plan touches no table). */
export interface DesignRollback {
  stopped?: undefined;
}

/** What the add phase's rollback did: its delete sweep of the derived records. */
export interface AddRollback {
  deleted: number;
  scanned: number;
  /** The sweep continued an unfinished one. */
  resumed: boolean;
  /** Stopped midway (Ctrl-C): the migration stays rolling-back; run rollback again to finish. */
  stopped: boolean;
  runId: string;
}

/** What the convert phase's rollback did to the backfill. */
export interface ConvertRollback {
  /** "none" before any convert; the run's status when it had ended; "aborted" once stopped here. */
  backfill: string;
  /** The run's status before the rollback stopped it. */
  was?: string;
  /** The stage's execution that ran it, and how it ended. */
  execution?: string;
  executionStatus?: string;
  stopped?: undefined;
}

/** What the move phase's rollback did to the traffic. */
export interface MoveRollback {
  flipped: boolean;
  fromPercent?: number;
  unpinned?: string[];
  stopped?: undefined;
}

/** What each phase's rollback did, by step (the remove phase has none: it refuses). */
export interface RollbackResults {
  design: DesignRollback;
  add: AddRollback;
  convert: ConvertRollback;
  move: MoveRollback;
}
export type RollbackStep = keyof RollbackResults;
export type RollbackResult = RollbackResults[RollbackStep];

/** One phase's rollback as the rollback outcome lists it: the step and what it did (typed by step). */
export type PhaseRollback = { [S in RollbackStep]: { step: S; did: RollbackResults[S] } }[RollbackStep];

/** The part of a phase that `ferry rollback` runs. */
export type RollbackPhase = Pick<Phase<never, unknown>, "step" | "rollback" | "assertRollbackPossible">;

/** A phase's rollback guard (the add phase's: the dual-write must be stopped). */
export interface RollbackGuard {
  validateRollback(ctx: LifecycleContext): Promise<GuardRefusedError[]>;
}

/** Options of `ferry rollback`, passed to every phase's rollback. */
export interface RollbackOptions {
  /** Delete sweep settings. */
  segments?: number;
  pageSize?: number;
  rate?: number;
  /** How long to wait for a running backfill to stop (ms). */
  stopTimeoutMs?: number;
  /** Stops the delete sweep after the current pages (resumable). */
  signal?: AbortSignal;
}

export const DEFAULT_STOP_TIMEOUT_MS = 60_000;
