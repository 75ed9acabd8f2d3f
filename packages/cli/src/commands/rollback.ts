/** `ferry rollback <migration>`: from any step before remove, back to where the migration started. */
import { DEFAULT_SWEEP_SETTINGS } from "@ferry/core/cleanup/sweep";
import { rollbackStep } from "@ferry/core/lifecycle/lifecycle";
import { DEFAULT_STOP_TIMEOUT_MS } from "@ferry/core/lifecycle/phase";
import { formatCount } from "@ferry/core/design/format";
import { Command } from "commander";
import { type StageFlags, parseInteger, parseNumber, withConnectionFlags, withStageFlag } from "../options.ts";
import { openMigration } from "./open-migration.ts";
import { printJson, table } from "../output.ts";
import { type LifecycleFlags, durationFlag, forceOf, stoppable, withForceFlags, withHeartbeatFlag, withLifecycleFlags } from "./lifecycle-shared.ts";

interface RollbackFlags extends LifecycleFlags, StageFlags {
  rate?: number;
  segments?: number;
  pageSize?: number;
  stopTimeout?: number;
}

export function rollbackCommand(): Command {
  const command = new Command("rollback")
    .description("Undo a migration before remove: traffic to v1, stop the backfill, delete the derived records (throttled, resumable)")
    .argument("<migration>", "migration number, name, id or file, e.g. 0001")
    .option("--rate <items/s>", `derived records deleted per second at most (default ${DEFAULT_SWEEP_SETTINGS.rate})`, parseNumber(1, 1_000_000))
    .option("--segments <n>", `parallel Scan segments (default ${DEFAULT_SWEEP_SETTINGS.segments})`, parseInteger(1, 1_000))
    .option("--page-size <n>", `items per Scan page, each page checkpointed (default ${DEFAULT_SWEEP_SETTINGS.pageSize})`, parseInteger(1, 10_000))
    .option("--stop-timeout <duration>", `how long to wait for a running backfill to stop (default ${DEFAULT_STOP_TIMEOUT_MS / 1000}s)`, durationFlag);
  withConnectionFlags(command);
  // The Backfill stack's state machine, if deployed: a running execution is stopped there (StopExecution).
  withStageFlag(command, ["Backfill"]);
  withLifecycleFlags(command);
  withHeartbeatFlag(command);
  withForceFlags(command, "the dual-write check (the derived records come back while it runs)");
  return command
    .addHelpText(
      "after",
      `
In order: every tenant back on v1 (and tenants pinned to v2 unpinned), the backfill aborted
and waited for (with --stage, a running execution of the stage's state machine is asked to stop,
then stopped with StopExecution), then every record whose owner stamp names this migration deleted (nothing
else: not source items, not other migrations' records), and the migration marked rolled back.
Stop the dual-write FIRST: while it runs it writes the derived records again as source items
change. Rollback refuses (exit 3) while its heartbeat is fresh; --force --reason overrides.
Ctrl-C stops the deletion after the current pages; running rollback again continues it.
Rolling back twice is harmless; a migration never added is refused (exit 3). After remove, rollback is refused until
\`ferry restore\` and \`ferry unretire\` brought v1 back.

Exit codes: 0 rolled back, 1 failed or stopped midway, 2 bad flags, 3 refused by a guard.

Example:
  $ npx ferry rollback 0001 --endpoint http://127.0.0.1:8000 --rate 2000
  $ npx ferry rollback 0001 --stage dev                     # on the deployed stage`,
    )
    .action(async (ref: string, opts: RollbackFlags) => {
      const { lifecycle: ctx, runtime, close } = await openMigration(ref, opts);
      try {
        const outcome = await stoppable(`the rollback of ${ctx.migration.id}`, (signal) =>
          rollbackStep(
            ctx,
            {
              signal,
              ...(opts.rate !== undefined ? { rate: opts.rate } : {}),
              ...(opts.segments !== undefined ? { segments: opts.segments } : {}),
              ...(opts.pageSize !== undefined ? { pageSize: opts.pageSize } : {}),
              ...(opts.stopTimeout !== undefined ? { stopTimeoutMs: opts.stopTimeout } : {}),
              ...(opts.stageOutputs ? { runtime } : {}),
            },
            forceOf(opts),
          ),
        );
        const did = Object.fromEntries(outcome.phases.map((p) => [p.step, p.did]));
        if (opts.json)
          printJson({
            migrationId: ctx.migration.id,
            status: outcome.state.status,
            again: outcome.again,
            stopped: outcome.stopped,
            forced: outcome.forced,
            phases: did,
          });
        else {
          const move = outcome.phases.find((p) => p.step === "move")?.did;
          const add = outcome.phases.find((p) => p.step === "add")?.did;
          const convert = outcome.phases.find((p) => p.step === "convert")?.did;
          process.stdout.write(
            `${outcome.stopped ? `Stopped the rollback of ${ctx.migration.id} midway; run it again to continue.` : `Rolled back ${ctx.migration.id}${outcome.again ? " (again: only what was left)" : ""}.`}\n` +
              `${table([
                ["traffic", move?.flipped ? `back on v1 (was v2 for ${move.fromPercent}%)` : "already on v1"],
                ["pins removed", move?.unpinned?.length ? move.unpinned.join(", ") : "-"],
                ["backfill", convert?.backfill ?? "none"],
                [
                  "derived records deleted",
                  `${formatCount(add?.deleted ?? 0)} (${formatCount(add?.scanned ?? 0)} items scanned${add?.resumed ? ", resumed" : ""})`,
                ],
                ["status", outcome.state.status ?? "-"],
              ])}\n`,
          );
        }
        if (outcome.stopped) process.exitCode = 1;
      } finally {
        await close(); // sends the step events still queued for the --stage's bus
      }
    });
}
