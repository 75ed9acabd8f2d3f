/**
 * `npm run sst -- <command> [args]`: runs the project's pinned SST (v2) so it can never hang
 * on a machine without AWS access. SST itself would wait on the credential chain (the EC2
 * metadata endpoint), on STS, or on a stage-name prompt; this wrapper checks those first,
 * with timeouts, and says what is missing.
 *
 *   1. Telemetry off (SST_TELEMETRY_DISABLED=1), always.
 *   2. migrations/index.ts regenerated from migrations/ (a new migration file is deployed
 *      without any other edit).
 *   3. A stage is required (--stage or SST_STAGE) when stdin is not a terminal: SST would
 *      otherwise prompt for a personal stage name and wait forever.
 *   4. For commands that talk to AWS: STS GetCallerIdentity within FERRY_SST_PREFLIGHT_SECONDS
 *      (default 15), one attempt, so missing credentials or no network fail in seconds.
 *   5. SST runs; a command other than `dev` is stopped after FERRY_SST_TIMEOUT_SECONDS
 *      (default 3600).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { writeMigrationRegistry } from "./migration-registry.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** SST commands that need AWS credentials and network. */
const AWS_COMMANDS = new Set(["dev", "deploy", "build", "diff", "remove", "bind", "shell", "secrets", "console", "bootstrap"]);

function fail(message: string, code = 1): never {
  console.error(`\nferry sst: ${message}\n`);
  process.exit(code);
}

function seconds(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) fail(`${name} must be a positive number of seconds, got "${process.env[name]}".`, 2);
  return value;
}

function stageOf(args: string[]): string | undefined {
  const i = args.indexOf("--stage");
  if (i >= 0) return args[i + 1];
  return args.find((a) => a.startsWith("--stage="))?.slice("--stage=".length) ?? process.env.SST_STAGE;
}

async function preflight(region: string): Promise<void> {
  const limit = seconds("FERRY_SST_PREFLIGHT_SECONDS", 15);
  const sts = new STSClient({ region, maxAttempts: 1 });
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), limit * 1000);
  try {
    const me = await sts.send(new GetCallerIdentityCommand({}), { abortSignal: abort.signal });
    console.error(`ferry sst: AWS account ${me.Account} as ${me.Arn}`);
  } catch (err) {
    const reason = abort.signal.aborted ? `no answer from AWS STS within ${limit} s` : (err as Error).message;
    fail(
      `cannot reach AWS (${reason}).\n` +
        "  SST needs AWS credentials and network access for this command. Configure credentials\n" +
        "  (AWS_PROFILE=<profile> or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, `aws sso login`) and\n" +
        "  check the network. Offline, the stacks are checked by `npx vitest run test/stacks` instead.",
    );
  } finally {
    clearTimeout(timer);
    sts.destroy();
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const command = args.find((a) => !a.startsWith("-"));
  if (!command) fail("usage: npm run sst -- <dev|deploy|diff|remove|...> --stage <stage> [sst options]", 2);
  process.env.SST_TELEMETRY_DISABLED = "1";

  if (writeMigrationRegistry(join(ROOT, "migrations"))) console.error("ferry sst: migrations/index.ts regenerated from migrations/ (commit it).");

  const stage = stageOf(args);
  const personalStage = existsSync(join(ROOT, ".sst", "stage"));
  if (!stage && !personalStage && !process.stdin.isTTY) {
    fail("no stage: pass --stage <stage> (or set SST_STAGE); SST would otherwise prompt for a stage name and wait.", 2);
  }
  if (AWS_COMMANDS.has(command)) await preflight(process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1");

  const sst = join(ROOT, "node_modules", ".bin", "sst");
  const child = spawn(sst, args, { cwd: ROOT, stdio: "inherit", env: process.env });
  const limit = seconds("FERRY_SST_TIMEOUT_SECONDS", 3600);
  const timer =
    command === "dev"
      ? undefined
      : setTimeout(() => {
          console.error(`\nferry sst: \`sst ${command}\` still running after ${limit} s; stopping it (FERRY_SST_TIMEOUT_SECONDS raises the limit).`);
          child.kill("SIGTERM");
        }, limit * 1000);
  child.on("exit", (code, signal) => {
    if (timer) clearTimeout(timer);
    process.exit(code ?? (signal ? 1 : 0));
  });
}

await main();
