/**
 * The shape every lifecycle step shares, after pgroll's operations (Validate, Start,
 * Complete, Rollback): `validate` returns the guards that refuse the step (it never
 * throws for a guard, so the orchestrator can refuse or record an override), `start` does
 * the step's work, `isComplete` says whether the work is done (a backfill can end later,
 * a move may stop at a canary percentage), `rollback` undoes the step's effect.
 */
import type { DynamoClients } from "../aws/dynamodb.ts";
import type { Migration } from "../definition/define-migration.ts";
import type { LifecycleStatus, MigrationState } from "./phases/add.ts";
import type { StepListener } from "./events.ts";
import type { GuardRefusedError } from "./guards.ts";
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
  rollback(ctx: LifecycleContext, options: RollbackOptions): Promise<Record<string, unknown>>;
  /**
   * Throws when this runtime cannot roll the step back at all (the convert phase: a backfill
   * running on a stage, without `--stage`). Checked for every phase before the rollback is
   * recorded, so a rollback that cannot finish changes nothing, traffic included.
   */
  assertRollbackPossible?(ctx: LifecycleContext): Promise<void>;
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
