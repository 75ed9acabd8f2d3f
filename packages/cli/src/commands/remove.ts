/** `ferry remove <migration> [--confirm]`: step 5, retire v1 and drop the old data (after a backup). */
import { DEFAULT_BACKUP_DIR } from "@ferry/core/cleanup/backup";
import { formatCount } from "@ferry/core/design/format";
import { removePlan, removeStep } from "@ferry/core/lifecycle/lifecycle";
import { DEFAULT_GUARD_OPTIONS, formatDurationMs } from "@ferry/core/lifecycle/options";
import { type BackupKind, DEFAULT_REMOVE_OPTIONS } from "@ferry/core/lifecycle/phases/remove";
import { Command, Option } from "commander";
import { parseInteger, parseNumber, withConnectionFlags, withStageFlag } from "../options.ts";
import { openMigration } from "./open-migration.ts";
import { printJson, table } from "../output.ts";
import { type LifecycleFlags, durationFlag, stoppable, withLifecycleFlags } from "./lifecycle-shared.ts";

interface RemoveFlags extends LifecycleFlags {
  confirm?: boolean;
  backupDir: string;
  backup?: BackupKind;
  rate?: number;
  segments?: number;
  pageSize?: number;
}

export function removeCommand(): Command {
  const command = new Command("remove")
    .description("Retire v1 (410 Gone) and run the migration's cleanup of old data, after a backup; without --confirm, print the plan")
    .argument("<migration>", "migration number, name, id or file, e.g. 0002")
    .option("--confirm", "do it (without: print what it would do and whether the guards pass)")
    .option("--soak <duration>", `v2 must have served 100% this long (default ${formatDurationMs(DEFAULT_GUARD_OPTIONS.soakMs)})`, durationFlag)
    .option(
      "--v1-quiet <duration>",
      `no v1 request may have been counted within this window (default ${formatDurationMs(DEFAULT_GUARD_OPTIONS.v1QuietWindowMs)})`,
      durationFlag,
    )
    .option("--backup-dir <dir>", "folder of the local JSON-lines backup", DEFAULT_BACKUP_DIR)
    .addOption(
      new Option("--backup <kind>", "file (default on a local endpoint), aws (CreateBackup, default elsewhere), none").choices(["file", "aws", "none"]),
    )
    .option("--rate <items/s>", `items cleaned per second at most (default ${DEFAULT_REMOVE_OPTIONS.cleanup.rate})`, parseNumber(1, 1_000_000))
    .option("--segments <n>", `parallel Scan segments of the cleanup (default ${DEFAULT_REMOVE_OPTIONS.cleanup.segments})`, parseInteger(1, 1_000))
    .option("--page-size <n>", `items per Scan page, each page checkpointed (default ${DEFAULT_REMOVE_OPTIONS.cleanup.pageSize})`, parseInteger(1, 10_000));
  withConnectionFlags(command);
  withStageFlag(command, []);
  withLifecycleFlags(command);
  return command
    .addHelpText(
      "after",
      `
Guards: v2 at 100% (no tenant pinned to v1), for the soak period (--soak), no v1 request
counted within --v1-quiet, and no API server holding uncounted v1 requests from that window
(each server declares them in the control table; a crashed one counts until its window
passed). Then: v1 marked retired (v1 routes answer 410 Gone), and when the
migration declares cleanup.removeAttributes, a backup first (locally a JSON-lines file that
\`ferry restore\` loads back; on AWS an on-demand backup whose ARN is kept in the state), then
the attributes removed from source items, only where unchanged since read (race-safe).
Throttled (--rate) and resumable: Ctrl-C stops after the current pages; run it again to
continue (the first backup is kept and appended to). The dual-write keeps running after remove.

Step events: --events prints each transition as a JSON line; with --stage each one is also
published to the stage's EventBridge bus (source "ferry", detail-type "ferry.step").

Exit codes: 0 done (or plan printed), 1 failed or stopped midway, 2 bad flags, 3 refused by a guard.

Example: see the plan, then remove with a one-day soak
  $ npx ferry remove 0002 --endpoint http://127.0.0.1:8000
  $ npx ferry remove 0002 --confirm --soak 1d --endpoint http://127.0.0.1:8000`,
    )
    .action(async (ref: string, opts: RemoveFlags) => {
      const { lifecycle: ctx, close } = await openMigration(ref, opts);
      const options = {
        backupDir: opts.backupDir,
        ...(opts.backup ? { backup: opts.backup } : {}),
        cleanup: {
          ...DEFAULT_REMOVE_OPTIONS.cleanup,
          ...(opts.rate !== undefined ? { rate: opts.rate } : {}),
          ...(opts.segments !== undefined ? { segments: opts.segments } : {}),
          ...(opts.pageSize !== undefined ? { pageSize: opts.pageSize } : {}),
        },
      };
      try {
        if (!opts.confirm) {
          const plan = await removePlan(ctx, options);
          if (opts.json) return printJson({ ...plan, confirm: false });
          process.stdout.write(
            `Plan for removing ${plan.migrationId} from ${plan.tableName} (nothing done; add --confirm):\n` +
              plan.actions.map((a, i) => `  ${i + 1}. ${a}\n`).join("") +
              (plan.ready ? "Guards: all pass.\n" : `Guards: refused now:\n${plan.refusals.map((r) => `  - ${r.guard}: ${r.message}\n`).join("")}`),
          );
          return;
        }
        const outcome = await stoppable(`the cleanup of ${ctx.migration.id}`, (signal) => removeStep(ctx, { ...options, signal }));
        const { backup, cleanup } = outcome.result;
        if (opts.json) {
          printJson({
            migrationId: ctx.migration.id,
            completed: outcome.completed,
            status: outcome.state.status,
            v1RetiredAt: outcome.result.release.v1RetiredAt,
            backup,
            cleanup: cleanup ? { ...cleanup.totals, status: cleanup.run.status } : null,
          });
        } else {
          process.stdout.write(
            `${outcome.completed ? `Removed ${ctx.migration.id}.` : `Stopped the cleanup of ${ctx.migration.id} midway; run remove --confirm again to continue.`}\n` +
              `${table([
                ["v1", `retired at ${outcome.result.release.v1RetiredAt} (410 Gone)`],
                ["backup", !backup ? "- (no cleanup)" : backup.kind === "file" ? backup.path : backup.kind === "aws" ? backup.arn : "none (--backup none)"],
                [
                  "cleanup",
                  cleanup
                    ? `${formatCount(cleanup.totals.processed)} item(s) cleaned, ${formatCount(cleanup.totals.skipped)} left (changed or gone meanwhile), ${formatCount(cleanup.totals.scanned)} scanned`
                    : "none declared",
                ],
                ["dual-write", "keeps running: it maintains the new records"],
              ])}\n` +
              (backup?.kind === "file" ? `Undo the cleanup with: npx ferry restore ${backup.path}\n` : ""),
          );
        }
        if (!outcome.completed) process.exitCode = 1;
      } finally {
        await close(); // sends the step events still queued for the --stage's bus
      }
    });
}
