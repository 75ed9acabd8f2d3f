/** The `ferry` command line: one file per command under commands/. */
import { FerryError } from "@ferry/core";
import { Command, CommanderError } from "commander";
import { abortCommand } from "./commands/abort.ts";
import { addCommand } from "./commands/add.ts";
import { backfillStatusCommand } from "./commands/backfill-status.ts";
import { checkCommand } from "./commands/check.ts";
import { convertCommand } from "./commands/convert.ts";
import { demoCommand } from "./commands/demo.ts";
import { dualWriteCommand } from "./commands/dual-write.ts";
import { localCommand } from "./commands/local.ts";
import { moveCommand } from "./commands/move.ts";
import { newCommand } from "./commands/new.ts";
import { pauseCommand } from "./commands/pause.ts";
import { planCommand } from "./commands/plan.ts";
import { removeCommand } from "./commands/remove.ts";
import { restoreCommand } from "./commands/restore.ts";
import { resumeCommand } from "./commands/resume.ts";
import { rollbackCommand } from "./commands/rollback.ts";
import { seedCommand } from "./commands/seed.ts";
import { serveCommand } from "./commands/serve.ts";
import { statusCommand } from "./commands/status.ts";
import { tokenCommand } from "./commands/token.ts";
import { unretireCommand } from "./commands/unretire.ts";
import { verifyCommand } from "./commands/verify.ts";
import { runCleanups } from "./shutdown.ts";
import { describeSystemError } from "./system-errors.ts";

/** Exit codes, documented in the README. */
export const ExitCode = { ok: 0, failed: 1, usage: 2, refused: 3 } as const;

export function buildProgram(): Command {
  const program = new Command("ferry")
    .description("Online data-model migrations for Amazon DynamoDB: design, add, convert, move, remove.")
    .showHelpAfterError()
    .exitOverride();
  for (const command of [
    localCommand(),
    seedCommand(),
    demoCommand(),
    newCommand(),
    checkCommand(),
    planCommand(),
    addCommand(),
    dualWriteCommand(),
    verifyCommand(),
    convertCommand(),
    pauseCommand(),
    resumeCommand(),
    abortCommand(),
    statusCommand(),
    moveCommand(),
    rollbackCommand(),
    removeCommand(),
    restoreCommand(),
    unretireCommand(),
    serveCommand(),
    tokenCommand(),
  ]) {
    program.addCommand(command.exitOverride());
  }
  // The old name of `ferry status <migration>`, hidden from the help.
  program.addCommand(backfillStatusCommand().exitOverride(), { hidden: true });
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    await runCleanups();
    process.exitCode = report(err);
  }
}

function report(err: unknown): number {
  if (err instanceof CommanderError) {
    // Commander already printed help/usage; --help and --version are not failures.
    return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  }
  if (err instanceof FerryError) {
    process.stderr.write(`ferry: ${err.message}\n`);
    return err.exitCode;
  }
  const known = describeSystemError(err);
  if (known) {
    process.stderr.write(`ferry: ${known.message}\n`);
    return known.exitCode;
  }
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  process.stderr.write(`ferry: ${message}\n`);
  if (process.env.FERRY_DEBUG) process.stderr.write(`${err instanceof Error ? err.stack : ""}\n`);
  else process.stderr.write("(set FERRY_DEBUG=1 for the stack trace)\n");
  return ExitCode.failed;
}
