/** `ferry pause <migration>`: asks the running backfill to stop after its current pages, keeping its checkpoints (abort shares the request). */
import { conversionStatus, requestStop } from "@ferry/core/backfill/control";
import type { ControlRequest } from "@ferry/core/backfill/state";
import { sleep } from "@ferry/core/util/backoff";
import { Command } from "commander";
import { withConnectionFlags } from "../options.ts";
import { printJson } from "../output.ts";
import { type BackfillFlags, POLL_MS, missingControlTable, openContext, withBackfillFlags } from "./backfill-shared.ts";

export function pauseCommand(): Command {
  const command = new Command("pause")
    .description("Pause the running backfill after its current pages; `ferry resume` continues it from the checkpoints")
    .argument("<migration>", "migration number, name, id or file, e.g. 0001");
  withConnectionFlags(command);
  withBackfillFlags(command);
  return command
    .option("--wait", "wait until the backfill has stopped")
    .addHelpText(
      "after",
      `
Works from any terminal: the request is stored with the run, and each segment checks it before
its next page. If no process is running the backfill (it crashed), the run is marked paused at once.

Example:
  $ npx ferry pause 0001 --endpoint http://127.0.0.1:8000 --wait
  $ npx ferry resume 0001 --endpoint http://127.0.0.1:8000`,
    )
    .action((ref: string, opts: StopFlags) => stopBackfill(ref, opts, "pause"));
}

export interface StopFlags extends BackfillFlags {
  wait?: boolean;
}

/** `ferry pause` / `ferry abort`: asks the running backfill to stop; with --wait, until it has. */
export async function stopBackfill(ref: string, opts: StopFlags, request: ControlRequest): Promise<void> {
  const opened = await openContext(ref, opts);
  const { ctx } = opened;
  const id = ctx.migration.id;
  try {
    const before = await conversionStatus(ctx).catch(missingControlTable(ctx));
    let run = await requestStop(ctx, request);
    const verb = request === "abort" ? "abort" : "pause";
    let message: string;
    if (before.run?.status === "completed" || before.run?.status === "aborted") {
      message = `The backfill of ${id} already ${before.run.status === "completed" ? "completed" : "was aborted"}; nothing to ${verb}.`;
    } else if (run.requested) {
      message = `Asked the backfill of ${id} (held by ${before.lock?.owner ?? "?"}) to ${verb}; it stops after its current pages.`;
      if (opts.wait) {
        while (run.status === "running") {
          await sleep(POLL_MS);
          const now = await conversionStatus(ctx);
          // Its holder died before stopping: the lease lapsed, so the stop applies directly.
          run = now.lock && now.lock.leaseUntil > Date.now() ? (now.run ?? run) : await requestStop(ctx, request);
        }
        message += ` It is now ${run.status}.`;
      }
    } else {
      message = `The backfill of ${id} is now ${run.status} (no process was running it).`;
    }
    if (request === "pause" && ["paused", "running"].includes(run.status)) message += ` \`ferry resume ${id}\` continues it.`;
    if (request === "abort") message += " Records written so far stay; `ferry convert` starts a new run.";
    if (opts.json) printJson({ migrationId: id, request, ...run });
    else process.stdout.write(`${message}\n`);
  } finally {
    opened.close();
  }
}
