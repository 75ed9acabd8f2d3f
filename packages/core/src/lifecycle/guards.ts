/**
 * Guard refusals: one error class per guard (a RefusalError, exit code 3), each saying which
 * guard failed and how to satisfy it, and the guard inputs several phases share (step order,
 * the backfill run). Phases return the guards that fail (they do not throw), so
 * the orchestrator can refuse on the first, or, where a guard may be overridden with
 * `--force --reason`, record every overridden guard in the step's history.
 */
import { type BackfillRun, readRun } from "../backfill/state.ts";
import type { MigrationState } from "../control/migration-state.ts";
import { unlessMissingTable } from "../dynamo/missing-table.ts";
import { GuardRefusedError, UsageError } from "../errors.ts";
import { formatDurationMs } from "./options.ts";
import { type LifecycleContext, controlLocation } from "./phase.ts";

export { GuardRefusedError };

/** Step order shared by convert, move and remove: added, not rolled back, not removed. */
export function orderGuards(ctx: LifecycleContext, state: MigrationState | undefined, step: string, allowRemoved = false): GuardRefusedError[] {
  if (!state?.history.some((h) => h.step === "add")) return [new StepOrderError(ctx.migration.id, step, "add")];
  if (state.status === "rolled-back" || state.status === "rolling-back") return [new MigrationRolledBackError(ctx.migration.id, step)];
  if (!allowRemoved && (state.status === "removing" || state.status === "removed")) return [new MigrationRemovedError(ctx.migration.id, step)];
  return [];
}

/** The real (not dry) backfill run, which the convert, move and rollback guards read; undefined before the first convert. */
export async function backfillRun(ctx: LifecycleContext): Promise<BackfillRun | undefined> {
  return unlessMissingTable(readRun(controlLocation(ctx)), undefined);
}

/** The migration has no state record yet, or a step before this one was never taken. */
export class StepOrderError extends GuardRefusedError {
  readonly guard = "step-order";
  constructor(
    readonly migrationId: string,
    readonly step: string,
    readonly needs: string,
  ) {
    super(`${step} of ${migrationId} needs ${needs} first: run \`ferry ${needs} ${migrationId}\`.`);
  }
}

/** The migration was rolled back; it has to be added again before any other step. */
export class MigrationRolledBackError extends GuardRefusedError {
  readonly guard = "rolled-back";
  constructor(
    readonly migrationId: string,
    readonly step: string,
  ) {
    super(`${migrationId} was rolled back; ${step} is not possible. Start over with \`ferry add ${migrationId}\`.`);
  }
}

/** The remove step ran: v1 is retired and the old data is gone, nothing before it can be undone. */
export class MigrationRemovedError extends GuardRefusedError {
  readonly guard = "removed";
  constructor(
    readonly migrationId: string,
    readonly action: string,
  ) {
    super(
      `${migrationId} was removed (v1 retired, cleanup run); ${action} is no longer possible. ` +
        `To go back: \`ferry restore <backup file>\` (or restore the on-demand backup on AWS), then \`ferry unretire ${migrationId} --reason "..."\`.`,
    );
  }
}

/** add: the migration does not pass `ferry check`. */
export class PlanInvalidError extends GuardRefusedError {
  readonly guard = "valid-plan";
  constructor(
    readonly migrationId: string,
    readonly problems: string[],
    /** The first offending item of each problem (planExamples), with the other migration where one is involved. */
    readonly examples: string[] = [],
    /** The table the check sampled, if it did. */
    readonly tableName?: string,
  ) {
    super(
      `add of ${migrationId} needs a valid plan, but \`ferry check ${migrationId}${tableName ? ` --table ${tableName}` : ""}\` finds problems (${problems.join("; ")}).` +
        (examples.length ? `\n${examples.map((e) => `  - ${e}`).join("\n")}\n` : " ") +
        "Fix the migration file and run `ferry check` until it passes.",
    );
  }
}

/** convert: no fresh dual-write heartbeat, and (unless disabled) a liveness ping went unanswered. */
export class DualWriteNotLiveError extends GuardRefusedError {
  readonly guard = "dual-write-live";
  override readonly forceable = true;
  constructor(
    readonly migrationId: string,
    readonly heartbeatAgeMs: number | undefined,
    readonly maxAgeMs: number,
    /** How long a liveness ping waited in vain, "stream-off" when the table has no stream to carry one; undefined when no probe ran. */
    readonly probe?: number | "stream-off",
    /** A clean stop recorded after the last applied change (then the heartbeat's age does not count). */
    readonly stop?: { at: number; by: string },
  ) {
    super(
      `convert of ${migrationId} needs the dual-write live, but ${
        stop
          ? `it was stopped at ${new Date(stop.at).toISOString()} by ${stop.by}, with nothing applied since,`
          : heartbeatAgeMs === undefined
            ? "it has never written a heartbeat"
            : `its last heartbeat is ${formatDurationMs(heartbeatAgeMs)} old (at most ${formatDurationMs(maxAgeMs)} allowed)`
      }${
        probe === undefined
          ? ""
          : probe === "stream-off"
            ? " and the table's stream is off, so no change can reach it (`ferry add` turns it on)"
            : ` and a liveness ping written to the table was not applied within ${formatDurationMs(probe)}`
      }. Start it (\`ferry dual-write ${migrationId}\` locally, the Stream stack on AWS; the table's stream must be on), then run convert again.`,
    );
  }
}

/** move: the backfill has not completed. */
export class ConvertIncompleteError extends GuardRefusedError {
  readonly guard = "convert-complete";
  override readonly forceable = true;
  constructor(
    readonly migrationId: string,
    readonly runStatus: string | undefined,
  ) {
    super(
      `move of ${migrationId} needs the backfill completed, but it is ${runStatus ?? "not started"}. ${nextBackfillStep(migrationId, runStatus)}, or override with --force --reason "...".`,
    );
  }
}

/** What gets a backfill in `runStatus` to completed: an aborted run cannot be resumed, only replaced. */
function nextBackfillStep(id: string, runStatus: string | undefined): string {
  switch (runStatus) {
    case "running":
      return `Wait until it completes (\`ferry status ${id}\` shows its progress)`;
    case "paused":
    case "failed":
      return `Run \`ferry resume ${id}\` to the end`;
    default:
      // Not started, or aborted (`ferry resume` refuses an aborted run): a new run.
      return `Run \`ferry convert ${id}\` to the end`;
  }
}

/** rollback: the migration was never added, so there is nothing to undo (and nothing to record). */
export class NeverAddedError extends GuardRefusedError {
  readonly guard = "added";
  constructor(readonly migrationId: string) {
    super(
      `${migrationId} was never added (\`ferry add\` has no record of it), so there is nothing to roll back; nothing was changed. Check the migration and --table / --control-table.`,
    );
  }
}

/** move: verify found missing, orphan or different records. */
export class VerifyNotCleanError extends GuardRefusedError {
  readonly guard = "verify-clean";
  override readonly forceable = true;
  constructor(
    readonly migrationId: string,
    readonly counts: { missing: number; orphans: number; different: number; invalidSources: number },
  ) {
    super(
      `move of ${migrationId} needs verify clean, but it found ${counts.missing} missing, ${counts.orphans} orphan and ${counts.different} different record(s)` +
        `${counts.invalidSources ? ` and ${counts.invalidSources} invalid source item(s)` : ""}. ` +
        `Run \`ferry verify ${migrationId} --repair\`, or override with --force --reason "...".`,
    );
  }
}

/** remove: v2 does not serve every tenant. */
export class NotFullyMovedError extends GuardRefusedError {
  readonly guard = "v2-at-100";
  constructor(
    readonly migrationId: string,
    readonly v2Percent: number,
    readonly v1Pins: string[],
  ) {
    super(
      `remove of ${migrationId} needs v2 at 100%, but it serves ${v2Percent}%${v1Pins.length ? ` and ${v1Pins.length} tenant(s) are pinned to v1 (${v1Pins.slice(0, 5).join(", ")})` : ""}. ` +
        `Run \`ferry move ${migrationId} --to v2 --percent 100\`${v1Pins.length ? " and unpin those tenants" : ""}, then wait the soak period.`,
    );
  }
}

/** remove: v2 has not been at 100% for the soak period. */
export class SoakNotOverError extends GuardRefusedError {
  readonly guard = "soak";
  constructor(
    readonly migrationId: string,
    readonly fullSince: string,
    readonly soakMs: number,
    readonly remainingMs: number,
  ) {
    super(
      `remove of ${migrationId} needs v2 at 100% for the soak period (${formatDurationMs(soakMs)}), but it has been there only since ${fullSince}; ` +
        `${formatDurationMs(remainingMs)} to go. Wait, or choose a shorter period with --soak.`,
    );
  }
}

/** remove: v1 served requests within the quiet window. */
export class V1StillUsedError extends GuardRefusedError {
  readonly guard = "v1-unused";
  constructor(
    readonly migrationId: string,
    readonly lastUsedAt: number,
    readonly windowMs: number,
  ) {
    super(
      `remove of ${migrationId} needs no v1 request in the last ${formatDurationMs(windowMs)}, but v1 was last used at ${new Date(lastUsedAt).toISOString()}. ` +
        "Find the clients still calling /v1 (or sending Accept-Version: 1) and move them to v2, then wait the window (--v1-quiet sets it).",
    );
  }
}

/** remove: a server answered v1 requests within the quiet window whose counts it still holds (or lost in a crash). */
export class V1UncountedError extends GuardRefusedError {
  readonly guard = "v1-counted";
  constructor(
    readonly migrationId: string,
    readonly server: { serverId: string; host: string; pid: number; holdsV1Since: number; until: number },
    readonly windowMs: number,
    /** The server's promise to flush has passed: it crashed, froze (Lambda) or cannot reach the control table. */
    readonly overdue: boolean,
    readonly servers: number,
  ) {
    const at = (ms: number) => new Date(ms).toISOString();
    super(
      `remove of ${migrationId} needs every v1 request of the last ${formatDurationMs(windowMs)} counted, but server ${server.host} (pid ${server.pid}) ` +
        `answered v1 requests since ${at(server.holdsV1Since)} that are not counted yet` +
        (overdue
          ? `, and it stopped recording at ${at(server.until)} without a clean stop (crashed or frozen?), so they may never be counted`
          : `; it flushes them by ${at(server.until)}`) +
        `${servers > 1 ? ` (${servers} servers hold such requests)` : ""}. ` +
        `Run remove again after ${at(server.until + windowMs)}, when the quiet window no longer covers them; stop servers with Ctrl-C (a clean stop flushes), not kill -9.`,
    );
  }
}

/** rollback: the dual-write is still running and would write the derived records again. */
export class DualWriteStillRunningError extends GuardRefusedError {
  readonly guard = "dual-write-stopped";
  override readonly forceable = true;
  constructor(
    readonly migrationId: string,
    readonly heartbeatAgeMs: number,
  ) {
    super(
      `rollback of ${migrationId} needs the dual-write stopped first: its heartbeat is ${formatDurationMs(heartbeatAgeMs)} old, ` +
        "and while it runs it writes the derived records again as source items change. Stop it (Ctrl-C the local `ferry dual-write`, " +
        "or disable the Stream stack's event source mapping on AWS), then run rollback again; --force rolls back anyway.",
    );
  }
}

/** --force without --reason. */
export class ForceWithoutReasonError extends UsageError {
  constructor() {
    super('--force needs --reason "..." saying why the guard is overridden; the reason is kept in the migration\'s history.');
  }
}
