// Running `ferry` in tests: in its own process (exit codes, stderr, signals), or in this process
// with stdout/stderr captured and, for --stage, a temporary SST outputs file and DynamoDB Local
// standing in for the stage's tables. A process runs the CLI compiled once for the test run
// (test/support/compiled-cli.ts: the same sources, seconds less start-up each); `{ bin: "real" }`
// or FERRY_TEST_REAL_BIN=1 runs packages/cli/bin/ferry.mjs itself, as the README documents it.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterEach, beforeEach, inject, vi } from "vitest";
import { type TestChild, compiledBin, compiledChild } from "./compiled-cli.ts";
import { endpoint } from "./dynamo.ts";

const root = join(import.meta.dirname, "../..");

/** The bin a user runs (`npx ferry`, `npm run ferry`). */
export const REAL_BIN = join(root, "packages/cli/bin/ferry.mjs");

export interface BinChoice {
  /** "real": packages/cli/bin/ferry.mjs (tsx at start-up); "compiled" (the default): the run's compiled CLI. */
  bin?: "real" | "compiled";
}

const useReal = (choice: BinChoice) => choice.bin === "real" || process.env.FERRY_TEST_REAL_BIN === "1";

/** Node's arguments that start `ferry` (append the command line). */
export function ferryArgv(choice: BinChoice = {}): string[] {
  return [useReal(choice) ? REAL_BIN : compiledBin(inject("ferryCli"))];
}

/** Node's arguments that start a test child (test/support/<child>.mts), compiled unless FERRY_TEST_REAL_BIN=1. */
export function childArgv(child: TestChild, choice: BinChoice = {}): string[] {
  return useReal(choice) ? ["--import", "tsx", join(root, `test/support/${child}.mts`)] : [compiledChild(inject("ferryCli"), child)];
}

/** `ferry <args>` in its own process, as a release manager runs it. */
export function ferryBin(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  choice: BinChoice = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [...ferryArgv(choice), ...args], { cwd: root, env: { ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

/**
 * Hooks that capture what commands run in this process write: each test starts with empty
 * `stdout`/`stderr` arrays (the same arrays, cleared; clear them mid-test with `.length = 0`),
 * and every mock is restored after it.
 */
export function captureOutput(): { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  beforeEach(() => {
    stdout.length = 0;
    stderr.length = 0;
    vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      stdout.push(String(chunk));
      return true;
    });
    vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
      stderr.push(String(chunk));
      return true;
    });
  });
  afterEach(() => vi.restoreAllMocks());
  return { stdout, stderr };
}

/**
 * Hooks for commands run in this process against a stage: each test gets empty `stdout`/`stderr`
 * captures (the same arrays, cleared), FERRY_SST_OUTPUTS pointing into a fresh temporary folder,
 * and DynamoDB Local as the stage's DynamoDB (--stage itself refuses --endpoint). `restore` puts
 * back whatever client the test replaced (Step Functions, EventBridge).
 */
export function stageCli(prefix: string, commands: () => Command[], restore: () => void = () => {}) {
  const saved = { ...process.env };
  const { stdout, stderr } = captureOutput();
  beforeEach(() => {
    process.env.FERRY_SST_OUTPUTS = join(mkdtempSync(join(tmpdir(), `${prefix}-`)), "outputs.json");
    process.env.AWS_ENDPOINT_URL_DYNAMODB = endpoint();
  });
  afterEach(() => {
    rmSync(join(String(process.env.FERRY_SST_OUTPUTS), ".."), { recursive: true, force: true });
    process.env = { ...saved };
    restore();
  });
  return {
    stdout,
    stderr,
    /** `ferry <args>` in this process, with `commands` registered. */
    async ferry(...args: string[]): Promise<void> {
      const program = new Command("ferry").exitOverride();
      for (const command of commands()) program.addCommand(command.exitOverride());
      await program.parseAsync(args, { from: "user" });
    },
    /** The last JSON object printed. */
    lastJson: () => JSON.parse(stdout.filter((c) => c.startsWith("{")).at(-1) ?? "null"),
  };
}

/** A long-running `ferry <args>` (serve, dual-write) in its own process: its first stdout line, and a stop by signal. */
export function ferryProcess(args: string[], env: NodeJS.ProcessEnv = process.env, choice: BinChoice = {}) {
  const child = spawn(process.execPath, [...ferryArgv(choice), ...args], { cwd: root, env: { ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code, signal) => resolve(code ?? (signal ? -1 : null))));
  const firstLine = new Promise<string>((resolve, reject) => {
    let out = "";
    const onData = (d: Buffer) => {
      out += d;
      const end = out.indexOf("\n");
      if (end >= 0) {
        child.stdout.off("data", onData);
        resolve(out.slice(0, end));
      }
    };
    child.stdout.on("data", onData);
    void exited.then((code) => reject(new Error(`ferry ${args[0]} exited ${code} before printing: ${stderr}`)));
  });
  // Keep reading so a chatty child never blocks on a full pipe.
  void firstLine.then(
    () => child.stdout.resume(),
    () => undefined,
  );
  return {
    child,
    firstLine,
    stderr: () => stderr,
    /** Sends `signal` and resolves with the exit code (-1 when killed by the signal). */
    async stop(signal: NodeJS.Signals = "SIGINT"): Promise<number | null> {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
