/**
 * Step 5, remove, as a lifecycle phase. Guards: v2 serves 100% (no tenant pinned to v1),
 * it has done so for the soak period, no v1 request was counted in the quiet window, and no
 * server holds (or lost in a crash) uncounted v1 requests from within it (server records).
 * Start: marks v1 retired (v1 routes answer 410 Gone), then, when the migration declares
 * `cleanup`, takes a backup (locally a JSON-lines file, on AWS an on-demand CreateBackup
 * whose ARN is recorded) and runs the race-safe, throttled, resumable cleanup
 * (cleanup/remove-attributes.ts). Running it again resumes an unfinished cleanup and keeps
 * the first backup. The dual-write stays: it keeps maintaining the new records.
 * Not reversible by rollback; `ferry restore <backup>` brings the old data back, then
 * `ferry unretire` (lifecycle/unretire.ts, guarded here and recorded) lets v1 serve again.
 */
import { keysOf } from "../../definition/define-migration.ts";
import { isLocalEndpoint } from "../../aws/endpoint.ts";
import { backupFileName, createTableBackup, DEFAULT_BACKUP_DIR, openBackupFile } from "../../cleanup/backup.ts";
import { CLEANUP_SWEEP } from "../../cleanup/remove-attributes.ts";
import { type SweepResult, type SweepSettings, readSweepRun, runSweep } from "../../cleanup/sweep.ts";
import { kindOf } from "../../kinds/registry.ts";
import { UsageError } from "../../errors.ts";
import type { ReleaseConfig } from "../../release/config.ts";
import { readRelease, setV1Retired } from "../../release/store.ts";
import { type ServerRecord, readServerRecords, uncountedV1Window } from "../../release/server-record.ts";
import { readUsage } from "../../release/usage.ts";
import type { MigrationState } from "../../control/migration-state.ts";
import { MigrationRemovedError, GuardRefusedError, NotFullyMovedError, SoakNotOverError, V1StillUsedError, V1UncountedError, orderGuards } from "../guards.ts";
import { type LifecycleContext, type Phase, controlLocation, patchStateOf } from "../phase.ts";

export type BackupKind = "file" | "aws" | "none";

export interface RemovePhaseOptions {
  /** Where the backup goes: "file" (default on a local endpoint), "aws" (CreateBackup, default elsewhere), "none" (no cleanup backup). */
  backup?: BackupKind;
  backupDir: string;
  cleanup: Partial<SweepSettings>;
  signal?: AbortSignal;
}

export const DEFAULT_REMOVE_OPTIONS: RemovePhaseOptions = { backupDir: DEFAULT_BACKUP_DIR, cleanup: { segments: 4, pageSize: 100, rate: 500 } };

export interface RemoveResult {
  release: ReleaseConfig;
  backup?: NonNullable<MigrationState["removal"]>["backup"];
  cleanup?: SweepResult;
}

/** When v2 last reached 100% and stayed there (from the release audit trail). */
export function fullSince(release: ReleaseConfig): string | undefined {
  if (release.v2Percent !== 100) return undefined;
  let since: string | undefined;
  for (const change of release.history) {
    if (change.to.v2Percent === 100 && change.from.v2Percent !== 100) since = change.at;
  }
  // The audit trail is capped: the move's start is the earliest it can have been.
  return since ?? release.moveStartedAt;
}

/** The remove guards, evaluated (also what `ferry remove` without --confirm shows). */
export async function removeGuards(ctx: LifecycleContext, state: MigrationState | undefined): Promise<GuardRefusedError[]> {
  const order = orderGuards(ctx, state, "remove", true);
  if (order.length) return order;
  const release = await readRelease(controlLocation(ctx));
  // Retired by an earlier (interrupted) remove: its guards passed then.
  if (release.v1RetiredAt) return [];
  const failures: GuardRefusedError[] = [];
  const v1Pins = Object.entries(release.pins)
    .filter(([, v]) => v === "v1")
    .map(([t]) => t);
  if (release.v2Percent !== 100 || v1Pins.length) failures.push(new NotFullyMovedError(ctx.migration.id, release.v2Percent, v1Pins));
  const now = ctx.guards.now();
  const since = fullSince(release);
  if (since && now - Date.parse(since) < ctx.guards.soakMs) {
    failures.push(new SoakNotOverError(ctx.migration.id, since, ctx.guards.soakMs, ctx.guards.soakMs - (now - Date.parse(since))));
  }
  // Server records first: one cleared after this read had its counts written before, so the usage read below sees them.
  const quietFrom = now - ctx.guards.v1QuietWindowMs;
  const holding = (await readServerRecords(controlLocation(ctx)))
    .map((record) => ({ record, window: uncountedV1Window(record) }))
    .filter((h): h is { record: ServerRecord; window: { from: number; to: number } } => h.window !== undefined && h.window.to >= quietFrom)
    .sort((a, b) => b.window.to - a.window.to);
  const latest = holding[0];
  if (latest) {
    const { record, window } = latest;
    failures.push(
      new V1UncountedError(
        ctx.migration.id,
        { serverId: record.serverId, host: record.host, pid: record.pid, holdsV1Since: window.from, until: window.to },
        ctx.guards.v1QuietWindowMs,
        window.to < now,
        holding.length,
      ),
    );
  }
  const usage = await readUsage(controlLocation(ctx), "v1", quietFrom);
  if (usage.lastUsedAt !== undefined && usage.lastUsedAt > now - ctx.guards.v1QuietWindowMs) {
    failures.push(new V1StillUsedError(ctx.migration.id, usage.lastUsedAt, ctx.guards.v1QuietWindowMs));
  }
  return failures;
}

/** The backup kind for a connection: a file locally, CreateBackup on AWS. */
export function defaultBackupKind(ctx: LifecycleContext): BackupKind {
  return isLocalEndpoint(ctx.clients.endpoint) ? "file" : "aws";
}

export const removePhase: Phase<Partial<RemovePhaseOptions>, RemoveResult> = {
  step: "remove",
  completedStatus: "removed",
  validate: (ctx, state) => removeGuards(ctx, state),
  async start(ctx, partial, record) {
    const options: RemovePhaseOptions = { ...DEFAULT_REMOVE_OPTIONS, ...partial };
    const state = await record({ status: "removing" });
    let release = await readRelease(controlLocation(ctx));
    if (!release.v1RetiredAt) {
      release = (await setV1Retired(controlLocation(ctx), true, ctx.actor, "remove", () => new Date(ctx.guards.now()))).after;
    }
    if (!ctx.migration.cleanup) return { release };
    const at = new Date(ctx.guards.now());
    let backup = state.removal?.backup;
    if (!backup) {
      const kind = options.backup ?? defaultBackupKind(ctx);
      if (kind === "file") {
        const path = backupFileName(options.backupDir, ctx.migration.id, ctx.tableName, at);
        openBackupFile(path, {
          migrationId: ctx.migration.id,
          tableName: ctx.tableName,
          createdAt: at.toISOString(),
          removeAttributes: ctx.migration.cleanup.removeAttributes ?? [],
          keys: keysOf(ctx.migration),
          ...(ctx.migration.cleanup.deleteSourceItems ? { wholeItems: true } : {}),
        });
        backup = { kind: "file", path, at: at.toISOString() };
      } else if (kind === "aws") {
        const { arn, name } = await createTableBackup(ctx.clients.raw, ctx.tableName, ctx.migration.id, at);
        backup = { kind: "aws", arn, name, at: at.toISOString() };
      } else backup = { kind: "none", at: at.toISOString() };
      await patchStateOf(ctx, { removal: { ...state.removal, backup } });
    }
    // The kind says what the cleanup drops (old attributes; the table kind's migrated source items).
    const task = kindOf(ctx.migration).removeTask({
      clients: ctx.clients,
      tableName: ctx.tableName,
      controlTable: ctx.controlTable,
      migration: ctx.migration,
      ...(backup.kind === "file" ? { backupFile: backup.path } : {}),
    });
    const cleanup = task ? await runSweep(task, options.cleanup, { ...(options.signal ? { signal: options.signal } : {}) }) : undefined;
    if (cleanup) {
      await patchStateOf(ctx, {
        removal: {
          backup,
          cleanup: {
            runId: cleanup.run.runId,
            status: cleanup.run.status,
            removed: cleanup.totals.processed,
            skipped: cleanup.totals.skipped,
            ...(cleanup.run.finishedAt ? { finishedAt: new Date(cleanup.run.finishedAt).toISOString() } : {}),
          },
        },
      });
    }
    return { release, backup, ...(cleanup ? { cleanup } : {}) };
  },
  isComplete: (_ctx, result) => !result.cleanup || result.cleanup.run.status === "completed",
  async rollback(ctx): Promise<never> {
    throw new MigrationRemovedError(ctx.migration.id, "rollback");
  },
};

/** unretire: v1 is not retired, so there is nothing to bring back. */
export class V1NotRetiredError extends GuardRefusedError {
  readonly guard = "v1-retired";
  constructor(readonly migrationId: string) {
    super(
      `unretire of ${migrationId} needs v1 retired by \`ferry remove\`, but it is not: v1 can serve traffic already (\`ferry move ${migrationId} --to v1\`).`,
    );
  }
}

/** unretire: the cleanup removed old data and no restore of its backup was recorded since. */
export class OldDataGoneError extends GuardRefusedError {
  readonly guard = "old-data-present";
  override readonly forceable = true;
  constructor(
    readonly migrationId: string,
    readonly cleanedAt: string,
    readonly backup: NonNullable<MigrationState["removal"]>["backup"] | undefined,
  ) {
    super(
      `unretire of ${migrationId} needs the old data back, but the cleanup removed it (run last written at ${cleanedAt}) and no restore was recorded since; ` +
        (backup?.kind === "file"
          ? `run \`ferry restore ${backup.path}\` first, then unretire again.`
          : backup?.kind === "aws"
            ? `restore the on-demand backup ${backup.arn} on AWS, then unretire with --force --reason "restored from ${backup.name}".`
            : `bring the removed attributes (${"`"}cleanup.removeAttributes${"`"}) back, then unretire with --force --reason "...".`),
    );
  }
}

/** unretire without --reason: the way back is always explained in the history. */
export class UnretireWithoutReasonError extends UsageError {
  constructor() {
    super('unretire needs --reason "..." saying why v1 comes back; the reason is kept in the migration\'s history.');
  }
}

/**
 * The unretire guards: v1 retired by remove, and the old data still there (the migration
 * declares no cleanup, its cleanup never ran, or `ferry restore` ran after it). The last one
 * may be overridden (an on-demand backup restored on AWS).
 */
export async function unretireGuards(ctx: LifecycleContext, state: MigrationState | undefined, release: ReleaseConfig): Promise<GuardRefusedError[]> {
  const order = orderGuards(ctx, state, "unretire", true);
  if (order.length) return order;
  if (!release.v1RetiredAt) return [new V1NotRetiredError(ctx.migration.id)];
  if (!ctx.migration.cleanup) return [];
  const run = await readSweepRun({ doc: ctx.clients.doc, controlTable: ctx.controlTable, migrationId: ctx.migration.id, kind: CLEANUP_SWEEP });
  if (!run) return [];
  const restoredAt = state?.restored ? Date.parse(state.restored.at) : undefined;
  if (restoredAt !== undefined && restoredAt >= run.updatedAt) return [];
  return [new OldDataGoneError(ctx.migration.id, new Date(run.updatedAt).toISOString(), state?.removal?.backup)];
}
