/**
 * How a backfill command ends when the run did not do what was asked: it ended without
 * completing, it cannot be resumed, or its stage execution ended without finishing the run.
 * (Refusals because a run is in the way are in control.ts, lock.ts and remote.ts.)
 */
import { ControlSk } from "../control/keys.ts";
import { FerryError, UsageError } from "../errors.ts";
import type { ExecutionState } from "./runtime.ts";
import type { BackfillRun } from "./state.ts";

/** The run ended without completing (failed, paused or aborted from elsewhere) or with items it could not convert. */
export class BackfillNotCompletedError extends FerryError {
  constructor(
    readonly migrationId: string,
    readonly run: BackfillRun,
    readonly failedItems: number,
  ) {
    super(notCompletedMessage(migrationId, run, failedItems));
  }
}

function notCompletedMessage(id: string, run: BackfillRun, failedItems: number): string {
  switch (run.status) {
    case "failed":
      return `The backfill of ${id} failed: ${run.lastError?.name ?? "Error"}: ${run.lastError?.message ?? "unknown"}. Fix the cause, then \`ferry resume ${id}\` continues from the checkpoints.`;
    case "paused":
      return `The backfill of ${id} was paused (\`ferry pause\`); \`ferry resume ${id}\` continues it.`;
    case "aborted":
      return `The backfill of ${id} was aborted (\`ferry abort\`); records written so far stay. \`ferry convert ${id}\` starts a new run.`;
    default:
      return `The backfill of ${id} finished, but ${failedItems} source item(s) could not be converted (listed above, and in the control table under ${ControlSk.backfill.failurePrefix}). Fix them, then run \`ferry convert ${id}\` again.`;
  }
}

/** A backfill that was aborted cannot be resumed. */
export class BackfillAbortedError extends UsageError {
  constructor(readonly migrationId: string) {
    super(`The backfill of ${migrationId} was aborted and cannot be resumed; \`ferry convert ${migrationId}\` starts a new run.`);
  }
}

/** The stage's execution ended but the run still says running: it never reached Finish or RecordFailure. */
export class ExecutionEndedError extends FerryError {
  constructor(
    readonly migrationId: string,
    readonly stage: string,
    readonly execution: ExecutionState,
  ) {
    super(
      `The execution ${execution.arn} of the backfill of ${migrationId} ended ${execution.status}` +
        `${execution.error ? ` (${execution.error}${execution.cause ? `: ${execution.cause}` : ""})` : ""} without finishing the run ` +
        `(timed out, stopped outside ferry, or not found). \`ferry resume ${migrationId} --stage ${stage}\` continues from the checkpoints.`,
    );
  }
}
