/** `ferry convert <migration>`: backfills the table (step 3), or changes the rate of the running backfill. */
import { changeRate, conversionStatus, startConversion } from "@ferry/core/backfill/control";
import { type BackfillSettings, DEFAULT_BACKFILL_SETTINGS } from "@ferry/core/backfill/settings";
import { formatCount } from "@ferry/core/design/format";
import { Command, Option } from "commander";
import { parseInteger, parseNumber, withConnectionFlags } from "../options.ts";
import { printJson } from "../output.ts";
import { type BackfillFlags, followConversion, openContext, withBackfillFlags } from "./backfill-shared.ts";

interface ConvertFlags extends BackfillFlags {
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
      `cap in source items written per second across all segments; other items the Scan reads are not counted (default: the migration's options.rate, else ${DEFAULT_BACKFILL_SETTINGS.rate})`,
      parseNumber(1, 10_000_000),
    )
    .option(
      "--page-size <n>",
      `items per Scan page; each page is checkpointed (default: the migration's options.pageSize, else ${DEFAULT_BACKFILL_SETTINGS.pageSize})`,
      parseInteger(1, 10_000),
    );
}

export function convertCommand(): Command {
  const command = new Command("convert")
    .description("Backfill: convert every existing source item (parallel Scan, race-safe writes, checkpointed), with progress")
    .argument("<migration>", "migration number, name, id or file, e.g. 0001");
  withConnectionFlags(command);
  command.option(
    "--segments <n>",
    `parallel Scan segments (default: the migration's options.segments, else ${DEFAULT_BACKFILL_SETTINGS.segments})`,
    parseInteger(1, 1_000),
  );
  withRateFlags(command)
    .option("--dry-run", "scan and derive, write nothing; report what would be converted")
    .option("--wait", "wait for the backfill to end (locally it always runs in this process, so this is the default)")
    .option("--restart", "start over from the beginning, replacing a paused or failed run");
  withBackfillFlags(command);
  return command
    .addOption(
      new Option("--max-pages-per-execution <n>", "pages per state-machine execution before it continues as a new one")
        .argParser(parseInteger(1, 3_500))
        .hideHelp(),
    )
    .addHelpText(
      "after",
      `
The backfill runs in this process: a progress bar on stderr, a summary on stdout at the end.
Ctrl-C pauses it after the current pages (each finished page is checkpointed) and exits 130;
\`ferry resume\` continues it. While it runs, \`ferry convert <migration> --rate N\` from another
terminal changes its rate live, and \`ferry pause\` / \`ferry abort\` stop it.
A paused or failed run must be continued with \`ferry resume\` or replaced with --restart; after a
completed or aborted run, convert starts a new run (derived records are written again, unchanged).

Exit codes: 0 completed, 1 failed / paused or aborted elsewhere / items that could not be converted
(listed), 2 bad flags or migration, 3 another process holds the backfill lock, 130 paused by Ctrl-C.

Example: convert 0001 on the local table with 8 segments at up to 2,000 items/s, then raise the rate
  $ npx ferry convert 0001 --endpoint http://127.0.0.1:8000 --segments 8 --rate 2000
  $ npx ferry convert 0001 --endpoint http://127.0.0.1:8000 --rate 5000     # from another terminal`,
    )
    .action(async (ref: string, opts: ConvertFlags) => {
      const opened = await openContext(ref, opts);
      // A dry run reads and writes its own run record: the real run (and its status) stays as it was.
      if (opts.dryRun) opened.ctx.dryRun = true;
      const { ctx } = opened;
      try {
        if (opts.rate !== undefined && onlyRateGiven(opts) && (await runningElsewhere(opened.ctx))) {
          const run = await changeRate(ctx, opts.rate);
          if (opts.json) return printJson({ migrationId: ctx.migration.id, rateChanged: true, ...run });
          process.stdout.write(
            `Changed the rate of the running backfill of ${ctx.migration.id} (run ${run.runId}) to ${formatCount(opts.rate)} items/s; ` +
              "its pages pick it up within one page.\n",
          );
          return;
        }
        const settings: Partial<BackfillSettings> = {
          ...(opts.segments !== undefined ? { segments: opts.segments } : {}),
          ...(opts.rate !== undefined ? { rate: opts.rate } : {}),
          ...(opts.pageSize !== undefined ? { pageSize: opts.pageSize } : {}),
          ...(opts.dryRun ? { dryRun: true } : {}),
          ...(opts.maxPagesPerExecution !== undefined ? { maxPagesPerExecution: opts.maxPagesPerExecution } : {}),
        };
        await followConversion({ opened, verb: opts.dryRun ? "dry run" : "converting", json: Boolean(opts.json) }, () =>
          startConversion(ctx, settings, {
            owner: opened.owner,
            restart: Boolean(opts.restart),
            ...(opts.leaseMs !== undefined ? { leaseMs: opts.leaseMs } : {}),
          }),
        );
      } finally {
        opened.close();
      }
    });
}

function onlyRateGiven(opts: ConvertFlags): boolean {
  return opts.segments === undefined && opts.pageSize === undefined && !opts.dryRun && !opts.restart && opts.maxPagesPerExecution === undefined;
}

/** A backfill of this migration is running under a live lease (in another process). */
async function runningElsewhere(ctx: Parameters<typeof conversionStatus>[0]): Promise<boolean> {
  // Before the first convert the control table does not exist yet: nothing is running.
  const status = await conversionStatus(ctx).catch(() => undefined);
  return status?.run?.status === "running" && status.lock !== undefined && status.lock.leaseUntil > Date.now();
}
