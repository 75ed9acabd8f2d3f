/** `ferry pause <migration>`: asks the running backfill to stop after its current pages, keeping its checkpoints (abort shares the request). */
import type { ControlRequest } from "@ferry/core/backfill/state";
import { sleep } from "@ferry/core/util/backoff";
import { Command } from "commander";
import { withConnectionFlags, withStageFlag } from "../options.ts";
import { printJson } from "../output.ts";
import { type BackfillFlags, POLL_MS, STAGE_POLL_MS, missingControlTable, withBackfillFlags } from "./backfill-shared.ts";
import { openMigration } from "./open-migration.ts";

export function pauseCommand(): Command {
  const command = new Command("pause")
    .description("Pause the running backfill after its current pages; `ferry resume` continues it from the checkpoints")
    .argument("<migration>", "migration number, name, id or file, e.g. 0001");
  withConnectionFlags(command);
  withBackfillFlags(command);
  withStageFlag(command);
  return command
    .option("--wait", "wait until the backfill has stopped")
    .addHelpText(
      "after",
      `
Works from any terminal: the request is stored with the run, and each segment checks it before
its next page. If no process is running the backfill (it crashed), the run is marked paused at once.
With --stage the same request stops the stage's execution after its current pages.

Example:
  $ npx ferry pause 0001 --endpoint http://127.0.0.1:8000 --wait
  $ npx ferry resume 0001 --endpoint http://127.0.0.1:8000
  $ npx ferry pause 0001 --stage dev`,
    )
    .action((ref: string, opts: StopFlags) => stopBackfill(ref, opts, "pause"));
}

export interface StopFlags extends BackfillFlags {
  wait?: boolean;
}

/** `ferry pause` / `ferry abort`: asks the running backfill to stop; with --wait, until it has. */
export async function stopBackfill(ref: string, opts: StopFlags, request: ControlRequest): Promise<void> {
  const opened = await openMigration(ref, opts, { steps: false });
  const { ctx, runtime } = opened;
  const id = ctx.migration.id;
  try {
    const before = await runtime.describe(ctx).catch(missingControlTable(ctx));
    let run = await runtime.stop(ctx, request);
    const holder = before.execution ? `running as execution ${before.execution.arn}` : `held by ${before.lock?.owner ?? "?"}`;
    const verb = request === "abort" ? "abort" : "pause";
    let message: string;
    if (before.run?.status === "completed" || before.run?.status === "aborted") {
      message = `The backfill of ${id} already ${before.run.status === "completed" ? "completed" : "was aborted"}; nothing to ${verb}.`;
    } else if (run.requested) {
      message = `Asked the backfill of ${id} (${holder}) to ${verb}; it stops after its current pages.`;
      if (opts.wait) {
        while (run.status === "running") {
          await sleep(runtime.inProcess ? POLL_MS : STAGE_POLL_MS);
          const now = await runtime.describe(ctx);
          // Its holder died before stopping (lease lapsed, execution ended): the stop applies directly.
          run = now.active ? (now.run ?? run) : await runtime.stop(ctx, request);
        }
        message += ` It is now ${run.status}.`;
      }
    } else if (before.active) {
      // A stage's abort stops the execution itself (StopExecution) after a short grace period.
      message = `Stopped the backfill of ${id} (${holder}); it is now ${run.status}.`;
    } else {
      message = `The backfill of ${id} is now ${run.status} (no process was running it).`;
    }
    if (request === "pause" && ["paused", "running"].includes(run.status)) message += ` \`ferry resume ${id}\` continues it.`;
    if (request === "abort") message += " Records written so far stay; `ferry convert` starts a new run.";
    if (opts.json) printJson({ migrationId: id, request, ...run });
    else process.stdout.write(`${message}\n`);
  } finally {
    await opened.close();
  }
}
