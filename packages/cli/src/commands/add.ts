/** `ferry add <migration>`: checks the table's stream and records the add step (where dual-write began). */
import { addStep } from "@ferry/core/lifecycle/lifecycle";
import type { AddResult } from "@ferry/core/lifecycle/phases/add";
import { DEFAULT_SAMPLE_SIZE } from "@ferry/core/design/sample";
import { Command } from "commander";
import { type StageFlags, parseInteger, withConnectionFlags, withStageFlag } from "../options.ts";
import { printJson, table } from "../output.ts";
import { type LifecycleFlags, withLifecycleFlags } from "./lifecycle-shared.ts";
import { openMigration } from "./open-migration.ts";

type AddFlags = LifecycleFlags & StageFlags & { sample: number };

export function addCommand(): Command {
  const command = new Command("add")
    .description("Start a migration: check the table's stream (NEW_AND_OLD_IMAGES) and record where dual-write begins")
    .argument("<migration>", "migration number, name, id or file, e.g. 0001");
  withConnectionFlags(command);
  withStageFlag(command, []);
  return withLifecycleFlags(command)
    .option(
      "--sample <n>",
      "real source items of the table the valid-plan guard derives, as `ferry check --table` (0: generated items only)",
      parseInteger(0, 1_000_000),
      DEFAULT_SAMPLE_SIZE,
    )
    .addHelpText(
      "after",
      `
Running add again changes nothing (the history keeps the first add). Exit code 3 when the
migration fails \`ferry check --table\` on generated and sampled real items (guard: a valid
plan; e.g. its records would overwrite another migration's) or the table's stream is off or
has another view type; the message names the items and says how to fix it. With --stage the add transition is also
published to the stage's EventBridge bus (source "ferry", detail-type "ferry.step").

Example:
  $ npx ferry add 0001 --endpoint http://127.0.0.1:8000
  $ npx ferry dual-write 0001 --endpoint http://127.0.0.1:8000`,
    )
    .action(async (ref: string, opts: AddFlags) => {
      const opened = await openMigration(ref, opts);
      try {
        // Through the orchestrator: the design guard (`ferry check` passes) runs first, the step is recorded.
        const { result } = await addStep(opened.lifecycle, { sample: opts.sample });
        if (opts.json) printJson(result);
        else process.stdout.write(`${describeAdd(result)}\n`);
      } finally {
        await opened.close(); // the --stage's bus gets every transition before the process ends
      }
    });
}

export function describeAdd(result: AddResult): string {
  const { state } = result;
  const start = state.dualWrite;
  const first = state.history.find((h) => h.step === "add");
  const lines = [
    result.created ? `Added ${state.migrationId}.` : `${state.migrationId} was already added; nothing changed.`,
    table([
      ["step", state.step],
      ["added", first ? `${first.at} by ${first.actor}` : "-"],
      ["table", start?.tableName ?? "-"],
      ["stream", start?.streamArn ?? "-"],
      ["open shards", start ? start.shards.map((s) => `${s.shardId} from ${s.startingSequenceNumber ?? "?"}`).join(", ") : "-"],
      ["control table", result.controlTable],
    ]),
  ];
  if (result.streamChanged) {
    lines.push(
      "Warning: the table's stream is not the one recorded at add: it was disabled and enabled again since. " +
        "Writes in between never reached dual-write; run `ferry verify --repair` after the backfill.",
    );
  }
  if (result.created) lines.push(`Next: run \`ferry dual-write ${state.migrationId}\` (locally) to apply changes as they happen.`);
  return lines.join("\n");
}
