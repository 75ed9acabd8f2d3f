/** `ferry resume <migration>`: continues a paused, failed or crashed backfill from its checkpoints. */
import { DEFAULT_LOCK_OPTIONS } from "@ferry/core/backfill/lock";
import { NoBackfillError, conversionStatus, resumeConversion } from "@ferry/core/backfill/control";
import { Command } from "commander";
import { withConnectionFlags } from "../options.ts";
import { printJson } from "../output.ts";
import { BackfillAbortedError, type BackfillFlags, followConversion, missingControlTable, openContext, withBackfillFlags } from "./backfill-shared.ts";
import { withRateFlags } from "./convert.ts";

interface ResumeFlags extends BackfillFlags {
  rate?: number;
  pageSize?: number;
}

export function resumeCommand(): Command {
  const command = new Command("resume")
    .description("Continue a paused, failed or interrupted backfill from its checkpoints, with progress")
    .argument("<migration>", "migration number, name, id or file, e.g. 0001");
  withConnectionFlags(command);
  withRateFlags(command);
  withBackfillFlags(command);
  return command
    .addHelpText(
      "after",
      `
Every segment continues after its last checkpointed page; at most the page each segment was on
is done again (its writes are idempotent). If the process running the backfill crashed, resume
waits for its lock lease to lapse (seconds) and takes over: no manual unlocking. --rate and
--page-size change the run's settings from here on. An aborted run cannot be resumed: start a
new one with \`ferry convert\`. Exit codes as for \`ferry convert\`.

Example: continue 0001 after Ctrl-C, at a lower rate
  $ npx ferry resume 0001 --endpoint http://127.0.0.1:8000 --rate 500`,
    )
    .action(async (ref: string, opts: ResumeFlags) => {
      const opened = await openContext(ref, opts);
      const { ctx } = opened;
      try {
        const status = await conversionStatus(ctx).catch(missingControlTable(ctx));
        if (!status.run) throw new NoBackfillError(ctx.migration.id);
        if (status.run.status === "aborted") throw new BackfillAbortedError(ctx.migration.id);
        if (status.run.status === "completed") {
          if (opts.json) return printJson({ migrationId: ctx.migration.id, ...status.run, totals: status.totals });
          process.stdout.write(`The backfill of ${ctx.migration.id} (run ${status.run.runId}) already completed; nothing to resume.\n`);
          return;
        }
        const leaseMs = opts.leaseMs ?? DEFAULT_LOCK_OPTIONS.leaseMs;
        const holder = status.lock;
        // A live holder renews well before its lease ends; one that has not by then is gone.
        const lockWaitMs = holder ? Math.max(0, holder.leaseUntil - Date.now()) + 1_000 : leaseMs * 2;
        if (holder && !opts.json) {
          process.stderr.write(`Waiting up to ${Math.ceil(lockWaitMs / 1000)} s for the lock of ${holder.owner} to lapse...\n`);
        }
        const tuning = {
          ...(opts.rate !== undefined ? { rate: opts.rate } : {}),
          ...(opts.pageSize !== undefined ? { pageSize: opts.pageSize } : {}),
        };
        await followConversion({ opened, verb: "resuming", json: Boolean(opts.json) }, () =>
          resumeConversion(ctx, tuning, { owner: opened.owner, leaseMs, lockWaitMs }),
        );
      } finally {
        opened.close();
      }
    });
}
