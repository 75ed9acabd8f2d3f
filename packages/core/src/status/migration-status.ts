/**
 * What `ferry status` shows, gathered in one typed object per migration: the step and its
 * history (the state record), the backfill (run, per-segment checkpoints, rates, ETA, what
 * runs it now: a local lease or a deployed execution), the last dry run, the dual-write
 * (heartbeat lag, counters), the latest error of either, and what kind of migration it is
 * (what it owns: records, attributes and their index, or a target table). Reads only the
 * control table (and DescribeExecution on a stage), so it is cheap while a backfill runs elsewhere.
 */
import { type ReleaseSummary, readReleaseSummary } from "../release/summary.ts";
import type { DynamoClients } from "../aws/dynamodb.ts";
import type { ConvertContext } from "../backfill/control.ts";
import { type BackfillDescription, type BackfillRuntime, localRuntime } from "../backfill/runtime.ts";
import { type ItemFailure, readItemFailures, readRun, readCheckpoints } from "../backfill/state.ts";
import type { PageCounters } from "../backfill/page.ts";
import { totalCounters } from "../backfill/tasks.ts";
import type { Migration } from "../definition/define-migration.ts";
import { type KindStatus, kindStatus } from "../kinds/describe.ts";
import type { ControlLocation } from "../control/keys.ts";
import { type MigrationState, type StepEntry, readMigrationState } from "../control/migration-state.ts";
import { isMissingTable } from "../dynamo/missing-table.ts";
import { listFailures } from "../dualwrite/failures.ts";
import { type DualWriteCounters, type DualWriteLag, dualWriteLag, readHeartbeat } from "../dualwrite/heartbeat.ts";

/** Where to read: the data table and ferry's control table. */
export interface StatusLocation {
  clients: DynamoClients;
  tableName: string;
  controlTable: string;
}

/** The backfill part: the runtime's description plus progress and the items it could not convert. */
export interface BackfillStatus extends BackfillDescription {
  /** Items scanned of the table's estimated size (ratio 0..1). */
  progress: { scanned: number; total: number; ratio: number };
  failedItems: { items: ItemFailure[]; total: number };
}

export interface DryRunStatus {
  runId: string;
  status: string;
  startedAt: number;
  finishedAt?: number;
  totals: PageCounters;
}

export interface DualWriteStatus {
  /** Since when the dual-write is live (from `ferry add`), if it was added. */
  since?: string;
  /** Lag from the heartbeat; undefined until the consumer applied a source record. */
  lag?: DualWriteLag;
  heartbeatAt?: number;
  counters?: DualWriteCounters;
  /** Stream records that failed at least once (their failure records; a retry may have applied them since). */
  failedRecords: number;
}

export interface LastError {
  source: "backfill" | "dual-write";
  name: string;
  message: string;
  at: number;
}

/** One migration's status (JSON for `ferry status --json`). */
export interface MigrationStatus {
  migrationId: string;
  description: string;
  /** The kind and what it owns (records, attributes and index, target table). */
  kind: KindStatus;
  /** The latest step taken; null before `ferry add`. */
  step: string | null;
  history: StepEntry[];
  backfill: BackfillStatus | null;
  lastDryRun: DryRunStatus | null;
  dualWrite: DualWriteStatus | null;
  lastError: LastError | null;
  /** The move step: traffic split, shadow agreement, per-version use, audit trail. */
  release: ReleaseSummary | null;
  /** The lifecycle's own fields of the state record (orchestrator): status, completions, verify, rollback, remove. */
  lifecycle: Pick<MigrationState, "status" | "completed" | "verification" | "rollback" | "removal"> | null;
}

/** Reading records of a control table that does not exist yet: nothing was added or converted. */
const missingTable =
  <T>(fallback: T) =>
  (err: unknown): T => {
    if (isMissingTable(err)) return fallback;
    throw err;
  };

/** The status of one migration; `runtime` decides how the backfill's execution is described (default local). */
export async function readMigrationStatus(
  location: StatusLocation,
  migration: Migration,
  runtime: BackfillRuntime = localRuntime(),
  options: { failuresShown?: number; now?: number } = {},
): Promise<MigrationStatus> {
  const now = options.now ?? Date.now();
  const ctx: ConvertContext = { clients: location.clients, tableName: location.tableName, controlTable: location.controlTable, migration };
  const where = { doc: location.clients.doc, controlTable: location.controlTable, migrationId: migration.id };
  const state: MigrationState | undefined = await readMigrationState(where).catch(missingTable(undefined));
  const described = await runtime.describe(ctx).catch(missingTable(undefined));
  let backfill: BackfillStatus | null = null;
  if (described?.run) {
    const total = Math.max(described.run.estimatedItems, described.totals.scanned);
    backfill = {
      ...described,
      progress: { scanned: described.totals.scanned, total, ratio: total > 0 ? described.totals.scanned / total : 1 },
      failedItems: await readItemFailures(where, described.run.startedAt, options.failuresShown ?? 20),
    };
  }
  const lastDryRun = await readDryRun(where).catch(missingTable(null));
  const heartbeat = await readHeartbeat(where.doc, where.controlTable, migration.id).catch(missingTable(undefined));
  const streamFailures = await listFailures(where).catch(missingTable([]));
  const dualWrite: DualWriteStatus | null =
    state?.dualWrite || heartbeat
      ? {
          ...(state?.dualWrite ? { since: state.dualWrite.at } : {}),
          ...(heartbeat ? { lag: dualWriteLag(heartbeat, now), heartbeatAt: heartbeat.appliedAt, counters: pickCounters(heartbeat) } : {}),
          failedRecords: streamFailures.length,
        }
      : null;
  const errors: LastError[] = [];
  if (backfill?.run?.lastError) errors.push({ source: "backfill", ...backfill.run.lastError });
  if (backfill?.execution && ["FAILED", "TIMED_OUT", "ABORTED"].includes(backfill.execution.status) && backfill.stale) {
    errors.push({
      source: "backfill",
      name: backfill.execution.error ?? `Execution${backfill.execution.status}`,
      message: backfill.execution.cause ?? `execution ${backfill.execution.arn} ended ${backfill.execution.status}`,
      at: backfill.execution.stoppedAt ?? now,
    });
  }
  for (const f of streamFailures) errors.push({ source: "dual-write", name: f.errorName, message: f.reason, at: f.lastAt });
  const lastError = errors.sort((a, b) => b.at - a.at)[0] ?? null;
  const release = await readReleaseSummary(where, { now }).catch(missingTable(null));
  return {
    migrationId: migration.id,
    description: migration.description,
    kind: kindStatus(migration),
    step: state?.step ?? null,
    history: state?.history ?? [],
    backfill,
    lastDryRun,
    dualWrite,
    lastError,
    release,
    lifecycle: state
      ? {
          status: state.status ?? "active",
          ...(state.completed ? { completed: state.completed } : {}),
          ...(state.verification ? { verification: state.verification } : {}),
          ...(state.rollback ? { rollback: state.rollback } : {}),
          ...(state.removal ? { removal: state.removal } : {}),
        }
      : null,
  };
}

/** The status of every migration, in id order. */
export async function readMigrationStatuses(
  location: StatusLocation,
  migrations: readonly Migration[],
  runtime: BackfillRuntime = localRuntime(),
): Promise<MigrationStatus[]> {
  const out: MigrationStatus[] = [];
  for (const migration of [...migrations].sort((a, b) => a.id.localeCompare(b.id))) out.push(await readMigrationStatus(location, migration, runtime));
  return out;
}

async function readDryRun(where: ControlLocation): Promise<DryRunStatus | null> {
  const store = { ...where, dryRun: true };
  const run = await readRun(store);
  if (!run) return null;
  const checkpoints = (await readCheckpoints(store)).filter((c) => c.runId === run.runId);
  return {
    runId: run.runId,
    status: run.status,
    startedAt: run.startedAt,
    ...(run.finishedAt ? { finishedAt: run.finishedAt } : {}),
    totals: totalCounters(checkpoints),
  };
}

function pickCounters(c: DualWriteCounters): DualWriteCounters {
  return {
    applied: c.applied,
    unchanged: c.unchanged,
    ignored: c.ignored,
    failed: c.failed,
    written: c.written,
    deleted: c.deleted,
    pings: c.pings ?? 0,
    superseded: c.superseded ?? 0,
  };
}
