// The backfill commands end to end: convert (summary, progress, failed items, refusal, live
// rate change, Ctrl-C), pause, resume, abort and status (and its old name backfill-status), in-process and as processes.
// Each table's migration is added and its dual-write heartbeat fresh, so convert's guards pass
// (the guards themselves: convert-guards.test.ts).
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { batchPutAll, type FerryError, loadMigration } from "@ferry/core";
import { generateWorkflows } from "@ferry/example-workflows";
import { conversionStatus } from "@ferry/core/backfill/control";
import { readLock } from "@ferry/core/backfill/lock";
import { lifecycleContext } from "@ferry/core/lifecycle/lifecycle";
import { readMigrationState } from "@ferry/core/control/migration-state";
import { ensureControlTable } from "@ferry/core/control/control-table";
import type { PageTrace } from "@ferry/core/backfill/tasks";
import { Command } from "commander";
import { afterEach, describe, expect, it, onTestFinished } from "vitest";
import { abortCommand } from "../../packages/cli/src/commands/abort.ts";
import { BackfillAbortedError, BackfillNotCompletedError } from "@ferry/core/backfill/errors";
import { backfillStatusCommand } from "../../packages/cli/src/commands/backfill-status.ts";
import { convertCommand } from "../../packages/cli/src/commands/convert.ts";
import { pauseCommand } from "../../packages/cli/src/commands/pause.ts";
import { resumeCommand } from "../../packages/cli/src/commands/resume.ts";
import { statusCommand } from "../../packages/cli/src/commands/status.ts";
import { captureOutput, childArgv } from "../support/cli.ts";
import { endpoint, freshPlainTable, testClients } from "../support/dynamo.ts";
import { invariantDiff } from "../support/invariant.ts";
import { beat, markAdded } from "../support/lifecycle.ts";

const root = join(import.meta.dirname, "../..");
const m1 = await loadMigration("0001");
const EXACT = { missing: [], orphans: [], different: [] };
const commands = () => [convertCommand(), resumeCommand(), pauseCommand(), abortCommand(), statusCommand(), backfillStatusCommand()];

const { stdout, stderr } = captureOutput();
afterEach(() => {
  delete process.env.FERRY_BACKFILL_TRACE;
});

/** Runs `ferry <args>` in this process, as a second terminal would. */
async function ferry(...args: string[]): Promise<void> {
  const program = new Command("ferry").exitOverride();
  for (const command of commands()) program.addCommand(command.exitOverride());
  await program.parseAsync(args, { from: "user" });
}

const lastJson = () => JSON.parse(stdout.filter((c) => c.startsWith("{")).at(-1) ?? "null");
const text = () => stdout.join("");

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `ferry <args>` as its own process (test/support/backfill-child.mts). */
function ferryProcess(args: string[], env: Record<string, string> = {}): { child: ChildProcess; exited: Promise<Exit> } {
  const child = spawn(process.execPath, [...childArgv("backfill-child"), ...args], {
    cwd: root,
    env: { ...process.env, AWS_ENDPOINT_URL_DYNAMODB: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout?.on("data", (d) => (out += d));
  child.stderr?.on("data", (d) => (err += d));
  return { child, exited: new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout: out, stderr: err }))) };
}

async function seeded(workflows: number, extra: Record<string, unknown>[] = []) {
  const clients = testClients();
  const table = await freshPlainTable(clients, "bfc");
  const items = [...generateWorkflows({ tenants: 2, workflows: workflows / 2, contexts: 2, pool: 50, tasks: 3, itemKb: 1 }), ...extra];
  await batchPutAll(clients.doc, table, items);
  const ctx = { clients, tableName: table, controlTable: `${table}.ferry`, migration: m1 };
  // Convert's guards: the migration added, the dual-write live.
  await ensureControlTable(clients.raw, ctx.controlTable);
  const lifecycle = lifecycleContext({ ...ctx, actor: "ana" });
  await markAdded(lifecycle);
  await beat(lifecycle, Date.now());
  return { clients, table, ctx, conn: ["--table", table, "--endpoint", endpoint()] };
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const traceOf = (file: string): (PageTrace & { pid: number })[] =>
  existsSync(file)
    ? readFileSync(file, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];

describe("ferry convert", () => {
  it("shows an example in every command's --help and keeps advanced flags out of it", async () => {
    for (const command of commands()) {
      let help = "";
      command.configureOutput({ writeOut: (s) => (help += s) }).exitOverride();
      await expect(command.parseAsync(["--help"], { from: "user" })).rejects.toMatchObject({ exitCode: 0 });
      expect(help, command.name()).toMatch(/Example/);
      expect(help).toMatch(/\$ npx ferry /);
      expect(help).not.toMatch(/--lease-ms|--max-pages-per-execution/);
    }
  });

  it("prints a JSON summary and no progress off a terminal; on a terminal it draws a progress bar", async () => {
    const { clients, table, conn } = await seeded(300);
    await ferry("convert", "0001", ...conn, "--segments", "3", "--rate", "100000", "--json");
    const summary = lastJson();
    expect(summary).toMatchObject({ migrationId: m1.id, status: "completed", totals: { sources: 300, converted: 300, recordsWritten: 600, failed: 0 } });
    expect(summary.settings).toMatchObject({ segments: 3, rate: 100_000, pageSize: m1.options.pageSize });
    expect(summary.failedItems).toEqual({ items: [], total: 0 });
    expect(stderr.join("")).toBe("");
    expect(await invariantDiff(clients, table, m1)).toMatchObject(EXACT);

    // A completed run can be converted again (a new run, same records); now on a "terminal".
    stdout.length = 0;
    const tty = Object.getOwnPropertyDescriptor(process.stderr, "isTTY");
    Object.defineProperty(process.stderr, "isTTY", { value: true, configurable: true });
    try {
      await ferry("convert", "0001", ...conn, "--segments", "2", "--page-size", "25", "--rate", "600");
    } finally {
      if (tty) Object.defineProperty(process.stderr, "isTTY", tty);
      else delete (process.stderr as { isTTY?: boolean }).isTTY;
    }
    expect(stderr.join("")).toMatch(/\rconverting 0001_workflow-context-index \[#*-*\] [\d,]+\/~[\d,]+ [\d,]+\/s ETA /);
    expect(text()).toMatch(/status\s+completed/);
    expect(text()).toMatch(/records written\s+600/);
    expect(text()).toMatch(/repaired after the read\s+0/);
    expect(text()).toMatch(/consumed\s+[\d,]+ RCU, [\d,]+ WCU/);
  });

  it("lists the items it could not convert with key and reason, and exits 1", async () => {
    const [bad] = [...generateWorkflows({ tenants: 1, workflows: 1, seed: 99 })];
    const broken = { ...bad!, PK: "tenant-broken", contexts: "oops" };
    const { conn } = await seeded(40, [broken]);
    const run = ferry("convert", "0001", ...conn, "--rate", "100000");
    await expect(run).rejects.toBeInstanceOf(BackfillNotCompletedError);
    await expect(run).rejects.toMatchObject({ exitCode: 1, message: expect.stringMatching(/1 source item\(s\) could not be converted/) });
    expect(text()).toMatch(/status\s+completed/);
    expect(text()).toMatch(/Items that could not be converted:/);
    // The key in the table's own names, partition key first.
    expect(text()).toContain(`PK="tenant-broken" SK="${broken.SK}"  SourceSchemaError: `);
  });

  it("refuses a second convert with exit 3 naming the holder, and changes the running rate live from another process", async () => {
    const { clients, table, ctx, conn } = await seeded(600);
    const trace = join(tmpdir(), `ferry-trace-${randomUUID()}.jsonl`);
    onTestFinished(() => rmSync(trace, { force: true }));
    process.env.FERRY_BACKFILL_TRACE = trace;
    // 10 items/s: a minute for 600 items unless the rate changes, so the two processes below
    // (slow to start on a loaded machine) find it running with most items left. Each segment
    // pauses 2 s after each page of 10.
    const slow = { rate: 10, segments: 2, pageSize: 10 };
    const slowPauseMs = (slow.pageSize / (slow.rate / slow.segments)) * 1000;
    const running = ferry("convert", "0001", ...conn, "--segments", `${slow.segments}`, "--page-size", `${slow.pageSize}`, "--rate", `${slow.rate}`);
    await until(() => traceOf(trace).length > 0);

    const second = await ferryProcess(["convert", "0001", ...conn, "--segments", "2"]).exited;
    expect(second.code).toBe(3);
    expect(second.stderr).toMatch(new RegExp(`^ferry: A backfill of ${m1.id} is already running: held by [^ ]+:${process.pid} since \\d{4}-`));

    const faster = await ferryProcess(["convert", "0001", ...conn, "--rate", "100000"]).exited;
    const changedBy = Date.now();
    expect(faster.code, faster.stderr).toBe(0);
    expect(faster.stdout).toMatch(/Changed the rate of the running backfill of 0001_workflow-context-index .* to 100,000 items\/s/);
    const atChange = await conversionStatus(ctx);
    expect(atChange.run?.effectiveRate).toBe(100_000);
    // Not yet checkpointed: at most a page per segment in flight.
    const left = 600 - atChange.totals.scanned - slow.segments * slow.pageSize;

    await running;
    // The items left at the change went at least twice as fast as the old rate allows (measured
    // from the change, so a slow process start does not count against it).
    expect(left).toBeGreaterThan(100);
    expect(Date.now() - changedBy).toBeLessThan(((left / slow.rate) * 1000) / 2);
    const fast = traceOf(trace).filter((t) => t.effectiveRate === 100_000);
    expect(fast.length).toBeGreaterThan(0);
    // From the next page on: at most one old-rate pause after the change.
    expect(Math.min(...fast.map((t) => t.at))).toBeLessThan(changedBy + slowPauseMs + 2_500);
    expect(await invariantDiff(clients, table, m1)).toMatchObject(EXACT);
  }, 120_000);
});

describe("ferry pause, resume, abort and status", () => {
  it("pause stops the running convert after its pages, status shows it, resume finishes it", async () => {
    const { clients, table, ctx, conn } = await seeded(400);
    const running = ferry("convert", "0001", ...conn, "--segments", "2", "--page-size", "20", "--rate", "60");
    const outcome = running.then(
      () => undefined,
      (err: unknown) => err,
    );
    await until(async () => ((await conversionStatus(ctx).catch(() => undefined))?.totals.scanned ?? 0) > 0);
    await ferry("pause", "0001", ...conn, "--wait");
    expect(text()).toMatch(
      /Asked the backfill of 0001_workflow-context-index \(held by [^)]+\) to pause; .* It is now paused\. `ferry resume 0001_workflow-context-index` continues it\./,
    );
    const err = await outcome;
    expect(err).toBeInstanceOf(BackfillNotCompletedError);
    expect((err as FerryError).exitCode).toBe(1);
    expect((err as BackfillNotCompletedError).run.status).toBe("paused");

    stdout.length = 0;
    await ferry("status", "0001", ...conn);
    expect(text()).toMatch(/backfill\s+paused, run /);
    expect(text()).toMatch(/segment\s+pages\s+scanned/);
    expect(text()).toMatch(/lock\s+none/);
    await ferry("status", "0001", ...conn, "--json");
    const paused = lastJson().backfill;
    expect(paused.run.status).toBe("paused");
    expect(paused.checkpoints).toHaveLength(2);
    expect(paused.totals.scanned).toBeGreaterThan(0);
    expect(paused.totals.scanned).toBeLessThan(400);
    // The old name still answers, with a deprecation line.
    stderr.length = 0;
    await ferry("backfill-status", "0001", ...conn, "--json");
    expect(lastJson().backfill.run.status).toBe("paused");
    expect(stderr.join("")).toMatch(/`backfill-status` is deprecated; use `ferry status 0001`/);

    stdout.length = 0;
    await ferry("resume", "0001", ...conn, "--rate", "100000", "--json");
    const done = lastJson();
    expect(done).toMatchObject({ status: "completed", runId: paused.run.runId, totals: { sources: 400, converted: 400 } });
    expect(done.settings.rate).toBe(100_000);
    expect(await invariantDiff(clients, table, m1)).toMatchObject(EXACT);
    await ferry("status", "0001", ...conn, "--json");
    expect(lastJson()).toMatchObject({ backfill: { run: { status: "completed" }, active: false, stale: false } });
    // The paused step completed through resume: start (convert), complete (resume).
    const state = await readMigrationState({ doc: clients.doc, controlTable: ctx.controlTable, migrationId: m1.id });
    expect(state?.history.filter((h) => h.step === "convert").map((h) => h.event ?? "start")).toEqual(["start", "complete"]);
    expect(lastJson().backfill.etaSeconds).toBeUndefined();
    expect(lastJson().backfill.lock).toBeUndefined();
  });

  it("abort keeps the records written so far, cannot be resumed, and convert starts a new run", async () => {
    const { clients, table, ctx, conn } = await seeded(400);
    const running = ferry("convert", "0001", ...conn, "--segments", "2", "--page-size", "20", "--rate", "60");
    const outcome = running.then(
      () => undefined,
      (err: unknown) => err,
    );
    await until(async () => ((await conversionStatus(ctx).catch(() => undefined))?.totals.scanned ?? 0) > 0);
    await ferry("abort", "0001", ...conn, "--wait");
    expect(text()).toMatch(/It is now aborted\. Records written so far stay/);
    const err = (await outcome) as BackfillNotCompletedError;
    expect(err.run.status).toBe("aborted");
    const aborted = err.run.runId;

    const partial = await invariantDiff(clients, table, m1);
    expect(partial.orphans).toEqual([]);
    expect(partial.different).toEqual([]);
    expect(partial.missing.length).toBeGreaterThan(0);
    expect(partial.missing.length).toBeLessThan(partial.expected);

    await expect(ferry("resume", "0001", ...conn)).rejects.toBeInstanceOf(BackfillAbortedError);
    stdout.length = 0;
    await ferry("convert", "0001", ...conn, "--rate", "100000", "--json");
    expect(lastJson()).toMatchObject({ status: "completed", totals: { sources: 400 } });
    expect(lastJson().runId).not.toBe(aborted);
    expect(await invariantDiff(clients, table, m1)).toMatchObject(EXACT);
  });

  it("Ctrl-C pauses convert after its current pages and exits 130; resume continues without unlocking", async () => {
    const { clients, table, ctx, conn } = await seeded(400);
    const trace = join(tmpdir(), `ferry-trace-${randomUUID()}.jsonl`);
    onTestFinished(() => rmSync(trace, { force: true }));
    const { child, exited } = ferryProcess(["convert", "0001", ...conn, "--segments", "2", "--page-size", "20", "--rate", "40"], {
      FERRY_BACKFILL_TRACE: trace,
    });
    await until(() => traceOf(trace).length > 0);
    child.kill("SIGINT");
    const exit = await exited;
    expect(exit.code, exit.stderr).toBe(130);
    expect(exit.stderr).toMatch(/Pausing 0001_workflow-context-index after the current pages/);
    expect(exit.stderr).toMatch(/ferry: paused 0001_workflow-context-index; .*`ferry resume 0001_workflow-context-index` continues it/);
    expect(exit.stdout).toMatch(/status\s+paused/);
    const status = await conversionStatus(ctx);
    expect(status.run?.status).toBe("paused");
    expect(status.lock).toBeUndefined();
    expect(status.totals.scanned).toBeLessThan(400);

    await ferry("resume", "0001", ...conn, "--rate", "100000", "--json");
    expect(lastJson()).toMatchObject({ status: "completed", totals: { sources: 400 } });
    expect(await invariantDiff(clients, table, m1)).toMatchObject(EXACT);
    expect(await readLock({ doc: clients.doc, controlTable: ctx.controlTable, migrationId: m1.id })).toBeUndefined();
  });
});
