/**
 * `ferry convert <migration>`: backfills the table (step 3) through the lifecycle orchestrator
 * (guards: added, not rolled back or removed, dual-write live; the step kept in the history),
 * or changes the rate of the running backfill; which of these a request is, is core's policy
 * (convertAction in lifecycle/phases/convert.ts). A dry run writes nothing and is not a step.
 */
import { describeTable } from "@ferry/core";
import { changeRate } from "@ferry/core/backfill/control";
import { TableNotFoundError } from "@ferry/core/design/sample";
import { completeConvert, convertStep } from "@ferry/core/lifecycle/lifecycle";
import { convertAction } from "@ferry/core/lifecycle/phases/convert";
import { BACKFILL_LIMITS, type BackfillSettings, DEFAULT_BACKFILL_SETTINGS, describeLimit } from "@ferry/core/backfill/settings";
import { formatCount } from "@ferry/core/design/format";
import { formatDurationMs } from "@ferry/core/lifecycle/options";
import { Command, Option } from "commander";
import { parseInteger, parseNumber, withConnectionFlags, withStageFlag } from "../options.ts";
import { printJson } from "../output.ts";
import { type BackfillFlags, followConversion, followStarted, resultOf, withBackfillFlags } from "./backfill-shared.ts";
import { type LifecycleFlags, forceOf, withActorFlags, withForceFlags, withHeartbeatFlag, withProbeFlag } from "./lifecycle-shared.ts";
import { openMigration } from "./open-migration.ts";

interface ConvertFlags extends BackfillFlags, Omit<LifecycleFlags, keyof BackfillFlags> {
  segments?: number;
  rate?: number;
  pageSize?: number;
  dryRun?: boolean;
  wait?: boolean;
  restart?: boolean;
  maxPagesPerExecution?: number;
}

/** --rate and --page-size, shared with `ferry resume`. */
export function withRateFlags(command: Command): Command {
  return command
    .option(
      "--rate <items/s>",
      `cap in source items written per second across all segments, ${describeLimit(BACKFILL_LIMITS.rate)}; other items the Scan reads are not counted (default: the migration's options.rate, else ${DEFAULT_BACKFILL_SETTINGS.rate})`,
      parseNumber(BACKFILL_LIMITS.rate.min, BACKFILL_LIMITS.rate.max),
    )
    .option(
      "--page-size <n>",
      `items per Scan page, ${describeLimit(BACKFILL_LIMITS.pageSize)}; each page is checkpointed (default: the migration's options.pageSize, else ${DEFAULT_BACKFILL_SETTINGS.pageSize})`,
      parseInteger(BACKFILL_LIMITS.pageSize.min, BACKFILL_LIMITS.pageSize.max),
    );
}

export function convertCommand(): Command {
  const command = new Command("convert")
    .description("Backfill: convert every existing source item (parallel Scan, race-safe writes, checkpointed), with progress")
    .argument("<migration>", "migration number, name, id or file, e.g. 0001");
  withConnectionFlags(command);
  command.option(
    "--segments <n>",
    `parallel Scan segments, ${describeLimit(BACKFILL_LIMITS.segments)} (default: the migration's options.segments, else ${DEFAULT_BACKFILL_SETTINGS.segments})`,
    parseInteger(BACKFILL_LIMITS.segments.min, BACKFILL_LIMITS.segments.max),
  );
  withRateFlags(command)
    .option("--dry-run", "scan and derive, write nothing; report what would be converted")
    .option("--wait", "with --stage, stay until the backfill ends, with the progress bar (locally it always runs in this process)")
    .option("--restart", "start over from the beginning, replacing a paused or failed run");
  withBackfillFlags(command);
  withStageFlag(command);
  withActorFlags(command);
  withProbeFlag(withHeartbeatFlag(command));
  withForceFlags(command, "the dual-write-live guard");
  return command
    .addOption(
      new Option("--max-pages-per-execution <n>", "pages per state-machine execution before it continues as a new one")
        .argParser(parseInteger(1, 3_500))
        .hideHelp(),
    )
    .addHelpText(
      "after",
      `
The step is guarded: the migration must be added (\`ferry add\`), not rolled back or removed, and
its dual-write live, or items changed during the backfill would be missed: a heartbeat younger
than --max-heartbeat-age, else (an idle table) a liveness ping written to the table that the
dual-write applies within --probe-timeout; a table whose stream is off is refused at once. --force --reason "..." overrides the dual-write guard
at once (no probe); the migration's
history keeps the step with who, when, the overridden guard and the reason. A dry run and a live
rate change of a running backfill are not steps: they are not guarded and not recorded.
Locally the backfill runs in this process: a progress bar on stderr, a summary on stdout at the end.
Ctrl-C pauses it after the current pages (each finished page is checkpointed) and exits 130;
\`ferry resume\` continues it. With --stage <stage> it starts the stage's deployed state machine
(StartExecution) and returns; --wait stays with the progress bar until it ends (Ctrl-C then only
stops following). The stage's table, control table, region and state machine come from its
outputs (.sst/outputs.json after \`npx sst deploy\`, else CloudFormation). While it runs, \`ferry convert <migration> --rate N\` from another
terminal changes its rate live, and \`ferry pause\` / \`ferry abort\` stop it.
A paused or failed run must be continued with \`ferry resume\` or replaced with --restart; after a
completed or aborted run, convert starts a new run (derived records are written again, unchanged).
The step is complete once the run completed (with --stage and no --wait only its start is recorded).

Exit codes: 0 completed (or started, with --stage and no --wait), 1 failed / paused or aborted
elsewhere / items that could not be converted (listed), 2 bad flags, migration or table (checked before anything is written),
stage not deployed, --force without --reason, 3 refused by a guard (the message says which and how to satisfy it),
another process or execution runs the backfill, or a paused or failed run is in the way (resume it or
--restart); every refusal is also a \`refused\` event with --events. 130 paused by Ctrl-C.

Example: convert 0001 on the local table with 8 segments at up to 2,000 items/s, then raise the rate
  $ npx ferry convert 0001 --endpoint http://127.0.0.1:8000 --segments 8 --rate 2000
  $ npx ferry convert 0001 --endpoint http://127.0.0.1:8000 --rate 5000     # from another terminal
  $ npx ferry convert 0001 --stage dev --wait                                # on the deployed stage
  $ npx ferry convert 0001 --endpoint http://127.0.0.1:8000 --force --reason "dual-write checked by hand"`,
    )
    .action(async (ref: string, opts: ConvertFlags) => {
      // A dry run publishes no step events: it is not a step.
      const opened = await openMigration(ref, opts, { steps: !opts.dryRun });
      // A dry run reads and writes its own run record: the real run (and its status) stays as it was.
      if (opts.dryRun) opened.ctx.dryRun = true;
      const { ctx, lifecycle, runtime } = opened;
      try {
        // Before anything is created (the control table, a run record): a wrong --table is a usage error.
        if (!(await describeTable(opened.clients.raw, ctx.tableName))) throw new TableNotFoundError(ctx.tableName);
        const settings: Partial<BackfillSettings> = {
          ...(opts.segments !== undefined ? { segments: opts.segments } : {}),
          ...(opts.rate !== undefined ? { rate: opts.rate } : {}),
          ...(opts.pageSize !== undefined ? { pageSize: opts.pageSize } : {}),
          ...(opts.dryRun ? { dryRun: true } : {}),
          ...(opts.maxPagesPerExecution !== undefined ? { maxPagesPerExecution: opts.maxPagesPerExecution } : {}),
        };
        const action = await convertAction(ctx, runtime, { settings, restart: Boolean(opts.restart) });
        if (action.kind === "change-rate") {
          const run = await changeRate(ctx, action.rate);
          if (opts.json) return printJson({ migrationId: ctx.migration.id, rateChanged: true, ...run });
          process.stdout.write(
            `Changed the rate of the running backfill of ${ctx.migration.id} (run ${run.runId}) to ${formatCount(action.rate)} items/s; ` +
              "its pages pick it up within one page.\n",
          );
          return;
        }
        const runOptions = { owner: opened.owner, restart: Boolean(opts.restart), ...(opts.leaseMs !== undefined ? { leaseMs: opts.leaseMs } : {}) };
        const follow = { opened, verb: opts.dryRun ? "dry run" : "converting", json: Boolean(opts.json) };
        const wait = Boolean(opts.wait);
        if (action.kind === "dry-run") {
          if (runtime.inProcess) await followConversion(follow, async () => resultOf(await runtime.start(ctx, settings, runOptions)));
          else await followStarted({ ...follow, wait }, () => runtime.start(ctx, settings, runOptions));
          return;
        }
        const step = async () =>
          (
            await convertStep(
              lifecycle,
              {
                settings,
                run: runOptions,
                runtime,
                ...(ctx.onPage ? { hooks: { onPage: ctx.onPage } } : {}),
                onProbe: (timeoutMs) =>
                  process.stderr.write(
                    `Checking that the dual-write runs (no fresh heartbeat): probing it with a liveness ping to ${ctx.tableName}, waiting up to ${formatDurationMs(timeoutMs)} (--probe-timeout) for the dual-write to apply it...\n`,
                  ),
              },
              forceOf(opts),
            )
          ).result;
        if (runtime.inProcess) {
          await followConversion(follow, step);
        } else {
          await followStarted({ ...follow, wait, onEnded: (run) => completeConvert(lifecycle, run) }, step);
        }
      } finally {
        await opened.close(); // sends the step events still queued for the --stage's bus
      }
    });
}
