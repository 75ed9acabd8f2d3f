/** `ferry unretire <migration> --reason`: the way back after remove (v1 serves again), guarded and recorded. */
import { unretireV1 } from "@ferry/core/lifecycle/unretire";
import { Command } from "commander";
import { withConnectionFlags, withStageFlag } from "../options.ts";
import { printJson, table } from "../output.ts";
import { type LifecycleFlags, describeEntry, forceOf, withLifecycleFlags } from "./lifecycle-shared.ts";
import { openMigration } from "./open-migration.ts";

export function unretireCommand(): Command {
  const command = new Command("unretire")
    .description("Undo remove's retirement of v1 (after `ferry restore` brought the old data back): v1 serves again, recorded with who and why")
    .argument("<migration>", "migration number, name, id or file, e.g. 0002")
    .option("--reason <text>", "why v1 comes back (required): kept in the migration's history")
    .option("--force", "override the old-data guard (needs --reason), e.g. after restoring an on-demand backup on AWS");
  withConnectionFlags(command);
  withStageFlag(command, []);
  withLifecycleFlags(command);
  return command
    .addHelpText(
      "after",
      `
Guards: v1 was retired by \`ferry remove\`, and the old data is still there: the migration
declares no cleanup, its cleanup never ran, or \`ferry restore <backup>\` ran after it (restore
records itself). On AWS, after restoring the on-demand backup by hand, --force --reason says so.
Then the history gets an "unretire" entry (actor, reason, overridden guards), v1 is un-retired in
the release configuration (audit "restore-v1"), and the migration is active again at its split:
\`ferry move --to v1\` flips traffic back, \`ferry rollback\` is possible again, and a later
\`ferry remove\` takes a new backup and runs a new cleanup.

Exit codes: 0 unretired, 2 bad flags (no --reason), 3 refused by a guard.

Example: undo a remove whose cleanup ran
  $ npx ferry restore .ferry/backups/0002_split-workflow-tasks.Workflows.2026-11-23T10-00-00-000Z.jsonl --endpoint http://127.0.0.1:8000
  $ npx ferry unretire 0002 --reason "clients still on v1" --endpoint http://127.0.0.1:8000
  $ npx ferry move 0002 --to v1 --endpoint http://127.0.0.1:8000`,
    )
    .action(async (ref: string, opts: LifecycleFlags) => {
      const { lifecycle: ctx, close } = await openMigration(ref, opts);
      try {
        const outcome = await unretireV1(ctx, forceOf(opts));
        const entry = [...outcome.state.history].reverse().find((h) => h.step === "unretire");
        if (opts.json)
          return printJson({
            migrationId: ctx.migration.id,
            status: outcome.state.status,
            v1Retired: false,
            release: outcome.release,
            step: entry,
            forced: outcome.forced,
          });
        process.stdout.write(
          `Unretired v1 of ${ctx.migration.id}: v1 routes serve again.\n${table([
            ["step", describeEntry(entry)],
            ["split", `v2 ${outcome.release.v2Percent}%`],
          ])}\n` + `Flip traffic back with \`ferry move ${ctx.migration.id} --to v1\`.\n`,
        );
      } finally {
        await close();
      }
    });
}
