/**
 * `ferry resume <migration>`: continues a paused, failed or crashed backfill from its
 * checkpoints. Not guarded: the run's start (`ferry convert`) already passed the convert
 * guards; when the run completes here, the convert step is recorded complete.
 */
import { DEFAULT_LOCK_OPTIONS } from "@ferry/core/backfill/lock";
import { NoBackfillError } from "@ferry/core/backfill/control";
import { completeConvert } from "@ferry/core/lifecycle/lifecycle";
import { Command } from "commander";
import { withConnectionFlags, withStageFlag } from "../options.ts";
import { printJson } from "../output.ts";
import { BackfillAbortedError } from "@ferry/core/backfill/errors";
import { refusing } from "@ferry/core/lifecycle/orchestrator";
import { type BackfillFlags, followConversion, followStarted, missingControlTable, resultOf, withBackfillFlags } from "./backfill-shared.ts";
import { withRateFlags } from "./convert.ts";
import { withActorFlags } from "./lifecycle-shared.ts";
import { openMigration } from "./open-migration.ts";

interface ResumeFlags extends BackfillFlags {
  actor: string;
  events?: boolean;
  rate?: number;
  pageSize?: number;
  wait?: boolean;
}

export function resumeCommand(): Command {
  const command = new Command("resume")
    .description("Continue a paused, failed or interrupted backfill from its checkpoints, with progress")
    .argument("<migration>", "migration number, name, id or file, e.g. 0001");
  withConnectionFlags(command);
  withRateFlags(command);
  withBackfillFlags(command);
  withStageFlag(command);
  withActorFlags(command);
  return command
    .option("--wait", "with --stage, stay until the backfill ends, with the progress bar")
    .addHelpText(
      "after",
      `
Every segment continues after its last checkpointed page; at most the page each segment was on
is done again (its writes are idempotent). If the process running the backfill crashed, resume
waits for its lock lease to lapse (seconds) and takes over: no manual unlocking. --rate and
--page-size change the run's settings from here on. An aborted run cannot be resumed: start a
new one with \`ferry convert\`. With --stage it starts a new execution of the stage's state machine
(after a pause still taking effect has ended) and returns, or follows it with --wait; an execution
that timed out or was stopped outside ferry is continued the same way.
Resume is not guarded: it continues a run whose start (\`ferry convert\`) already passed the convert
guards (added, dual-write live), even if the dual-write has stopped since; when the run completes,
the convert step is recorded complete in the migration's history. Exit codes as for \`ferry convert\`
(3 only when another process or execution runs the backfill).

Example: continue 0001 after Ctrl-C, at a lower rate
  $ npx ferry resume 0001 --endpoint http://127.0.0.1:8000 --rate 500
  $ npx ferry resume 0001 --stage dev --wait`,
    )
    .action(async (ref: string, opts: ResumeFlags) => {
      // The convert step's completion event: --events on stdout, with --stage also the stage's bus.
      const opened = await openMigration(ref, opts);
      const { ctx, lifecycle } = opened;
      try {
        const status = await opened.runtime.describe(ctx).catch(missingControlTable(ctx));
        if (!status.run) throw new NoBackfillError(ctx.migration.id);
        if (status.run.status === "aborted") throw new BackfillAbortedError(ctx.migration.id);
        if (status.run.status === "completed") {
          if (opts.json) return printJson({ migrationId: ctx.migration.id, ...status.run, totals: status.totals });
          process.stdout.write(`The backfill of ${ctx.migration.id} (run ${status.run.runId}) already completed; nothing to resume.\n`);
          return;
        }
        const tuning = {
          ...(opts.rate !== undefined ? { rate: opts.rate } : {}),
          ...(opts.pageSize !== undefined ? { pageSize: opts.pageSize } : {}),
        };
        if (!opened.runtime.inProcess) {
          await followStarted(
            { opened, verb: "resuming", json: Boolean(opts.json), wait: Boolean(opts.wait), onEnded: (run) => completeConvert(lifecycle, run) },
            () => refusing(lifecycle, "convert", () => opened.runtime.resume(ctx, tuning, { owner: opened.owner })),
          );
          return;
        }
        const leaseMs = opts.leaseMs ?? DEFAULT_LOCK_OPTIONS.leaseMs;
        const holder = status.lock;
        // A live holder renews well before its lease ends; one that has not by then is gone.
        const lockWaitMs = holder ? Math.max(0, holder.leaseUntil - Date.now()) + 1_000 : leaseMs * 2;
        if (holder && !opts.json) {
          process.stderr.write(`Waiting up to ${Math.ceil(lockWaitMs / 1000)} s for the lock of ${holder.owner} to lapse...\n`);
        }
        await followConversion({ opened, verb: "resuming", json: Boolean(opts.json) }, async () => {
          const result = resultOf(await refusing(lifecycle, "convert", () => opened.runtime.resume(ctx, tuning, { owner: opened.owner, leaseMs, lockWaitMs })));
          await completeConvert(lifecycle, result.run);
          return result;
        });
      } finally {
        await opened.close();
      }
    });
}
