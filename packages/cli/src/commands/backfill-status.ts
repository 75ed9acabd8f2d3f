/**
 * `ferry backfill-status <migration>`: the old name of `ferry status <migration>`, kept as a
 * hidden alias so scripts keep working; it prints a deprecation line on stderr first.
 */
import { Command } from "commander";
import { withConnectionFlags, withStageFlag } from "../options.ts";
import { type BackfillFlags, withBackfillFlags } from "./backfill-shared.ts";
import { showStatus } from "./status.ts";

export function backfillStatusCommand(): Command {
  const command = new Command("backfill-status")
    .description("Deprecated: use `ferry status <migration>`")
    .argument("<migration>", "migration number, name, id or file, e.g. 0001");
  withConnectionFlags(command);
  withBackfillFlags(command);
  withStageFlag(command);
  return command
    .addHelpText("after", "\nExample (the same as `ferry status 0001`):\n  $ npx ferry backfill-status 0001 --endpoint http://127.0.0.1:8000")
    .action(async (ref: string, opts: BackfillFlags) => {
      process.stderr.write(`ferry: \`backfill-status\` is deprecated; use \`ferry status ${ref}\` (same flags, same output).\n`);
      await showStatus(ref, opts);
    });
}
