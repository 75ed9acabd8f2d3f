/** `ferry abort <migration>`: stops the running backfill for good; records written so far stay. */
import { Command } from "commander";
import { withConnectionFlags, withStageFlag } from "../options.ts";
import { withBackfillFlags } from "./backfill-shared.ts";
import { type StopFlags, stopBackfill } from "./pause.ts";

export function abortCommand(): Command {
  const command = new Command("abort")
    .description("Abort the running backfill after its current pages; it cannot be resumed (convert starts a new run)")
    .argument("<migration>", "migration number, name, id or file, e.g. 0001");
  withConnectionFlags(command);
  withBackfillFlags(command);
  withStageFlag(command);
  return command
    .option("--wait", "wait until the backfill has stopped")
    .addHelpText(
      "after",
      `
Derived records already written stay in the table (they are what derive makes of their source
items; the dual-write keeps them current). Use \`ferry pause\` instead to continue later.
With --stage, abort lets the execution stop by itself for a few seconds, then stops it
(StopExecution) and marks the run aborted.

Example:
  $ npx ferry abort 0001 --endpoint http://127.0.0.1:8000 --wait
  $ npx ferry convert 0001 --endpoint http://127.0.0.1:8000     # a new run, from the beginning
  $ npx ferry abort 0001 --stage dev`,
    )
    .action((ref: string, opts: StopFlags) => stopBackfill(ref, opts, "abort"));
}
