/** `ferry move <migration> --to v1|v2`: the release flip (step 4), guarded on the first move to v2, audited. */
import { moveStep } from "@ferry/core/lifecycle/lifecycle";
import { describeSplit } from "@ferry/core/release/config";
import { DEFAULT_SUNSET_DAYS } from "@ferry/core/release/store";
import { Command, Option } from "commander";
import { parseInteger, withConnectionFlags, withStageFlag } from "../options.ts";
import { openMigration } from "./open-migration.ts";
import { printJson, table } from "../output.ts";
import { type LifecycleFlags, describeEntry, forceOf, withForceFlags, withLifecycleFlags } from "./lifecycle-shared.ts";

interface MoveFlags extends LifecycleFlags {
  to: "v1" | "v2";
  percent?: number;
  shadow?: number;
  sunsetDays?: number;
}

export function moveCommand(): Command {
  const command = new Command("move")
    .description("Move traffic between v1 (old model) and v2 (new model): canary percentage, shadow reads, instant flip back")
    .argument("<migration>", "migration number, name, id or file, e.g. 0001")
    .addOption(new Option("--to <version>", "the version to move to").choices(["v1", "v2"]).makeOptionMandatory())
    .option("--percent <n>", "share of tenants served v2 (sticky per tenant; default 100 with --to v2)", parseInteger(0, 100))
    .option("--shadow <n>", "share of requests also run on the other version and compared (unchanged when omitted)", parseInteger(0, 100))
    .option("--sunset-days <n>", `days from the first move to the Sunset date v1 announces (default ${DEFAULT_SUNSET_DAYS})`, parseInteger(1, 3650));
  withConnectionFlags(command);
  withStageFlag(command, []);
  withLifecycleFlags(command);
  withForceFlags(command, "the first move's guards (backfill completed, verify clean)");
  return command
    .addHelpText(
      "after",
      `
The first move to v2 needs the backfill completed and \`ferry verify\` clean (it runs verify);
--force --reason "..." overrides them and the history keeps who, when and why. Later moves
(ramping up) and --to v1 (the instant flip back) are never refused. Every change is appended
to the release audit trail that \`ferry status\` shows; servers pick it up within 5 s.

Step events: --events prints each transition as a JSON line; with --stage each one is also
published to the stage's EventBridge bus (source "ferry", detail-type "ferry.step").

Exit codes: 0 moved, 2 bad flags, 3 refused by a guard (the message says which and how to satisfy it).

Example: a 10% canary with 5% shadow reads, then everyone, then back to v1
  $ npx ferry move 0001 --to v2 --percent 10 --shadow 5 --endpoint http://127.0.0.1:8000
  $ npx ferry move 0001 --to v2 --percent 100 --endpoint http://127.0.0.1:8000
  $ npx ferry move 0001 --to v1 --endpoint http://127.0.0.1:8000`,
    )
    .action(async (ref: string, opts: MoveFlags) => {
      const { lifecycle: ctx, close } = await openMigration(ref, opts);
      try {
        const outcome = await moveStep(
          ctx,
          {
            to: opts.to,
            ...(opts.percent !== undefined ? { percent: opts.percent } : {}),
            ...(opts.shadow !== undefined ? { shadow: opts.shadow } : {}),
            ...(opts.sunsetDays !== undefined ? { sunsetDays: opts.sunsetDays } : {}),
            ...(opts.reason ? { reason: opts.reason } : {}),
          },
          forceOf(opts),
        );
        const { before, after } = outcome.result;
        const audit = after.history.at(-1);
        const entry = [...outcome.state.history].reverse().find((h) => h.step === "move" && (h.event ?? "start") === "start");
        if (opts.json) {
          return printJson({
            migrationId: ctx.migration.id,
            split: describeSplit(after),
            release: after,
            audit,
            step: entry,
            completed: outcome.completed,
            forced: outcome.forced,
          });
        }
        process.stdout.write(
          `${table([
            ["migration", ctx.migration.id],
            ["split", `${describeSplit(after)} (was: ${describeSplit(before)})`],
            ["shadow reads", `${after.shadowPercent}% (was ${before.shadowPercent}%)`],
            ["audit", audit ? `${audit.action} by ${audit.actor} at ${audit.at}: v2 ${audit.from.v2Percent}% -> ${audit.to.v2Percent}%` : "-"],
            ["step", describeEntry(entry)],
            ...(after.sunsetAt ? [["v1 sunset", after.sunsetAt]] : []),
          ])}\n` + (outcome.completed ? "v2 serves every tenant: after the soak period, `ferry remove` retires v1.\n" : ""),
        );
      } finally {
        await close(); // sends the step events still queued for the --stage's bus
      }
    });
}
