// A `ferry` process with the backfill commands, for tests that need a real second process:
// SIGKILL/SIGINT, exit codes, another terminal. Reports errors as packages/cli/src/main.ts does.
// FERRY_TEST_KILL_AFTER_PAGES=n makes it SIGKILL itself right after writing its n-th
// FERRY_BACKFILL_TRACE line, i.e. after a page's writes and before its checkpoint.
import fs from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { FerryError } from "@ferry/core";
import { Command, CommanderError } from "commander";
import { abortCommand } from "../../packages/cli/src/commands/abort.ts";
import { backfillStatusCommand } from "../../packages/cli/src/commands/backfill-status.ts";
import { convertCommand } from "../../packages/cli/src/commands/convert.ts";
import { pauseCommand } from "../../packages/cli/src/commands/pause.ts";
import { resumeCommand } from "../../packages/cli/src/commands/resume.ts";
import { statusCommand } from "../../packages/cli/src/commands/status.ts";
import { runCleanups } from "../../packages/cli/src/shutdown.ts";

function backfillProgram(): Command {
  const program = new Command("ferry").exitOverride();
  for (const command of [convertCommand(), resumeCommand(), pauseCommand(), abortCommand(), statusCommand(), backfillStatusCommand()]) {
    program.addCommand(command.exitOverride());
  }
  return program;
}

const killAfter = Number(process.env.FERRY_TEST_KILL_AFTER_PAGES ?? 0);
if (killAfter > 0) {
  const append = fs.appendFileSync;
  let lines = 0;
  fs.appendFileSync = ((...args: Parameters<typeof append>) => {
    append(...args);
    if (args[0] === process.env.FERRY_BACKFILL_TRACE && ++lines >= killAfter) process.kill(process.pid, "SIGKILL");
  }) as typeof append;
  syncBuiltinESMExports();
}

try {
  await backfillProgram().parseAsync(process.argv.slice(2), { from: "user" });
} catch (err) {
  await runCleanups();
  if (err instanceof CommanderError) process.exitCode = err.exitCode === 0 ? 0 : 2;
  else if (err instanceof FerryError) {
    process.stderr.write(`ferry: ${err.message}\n`);
    process.exitCode = err.exitCode;
  } else {
    process.stderr.write(`ferry: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  }
}
