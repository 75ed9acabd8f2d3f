// Crash safety of the backfill: a `ferry` process SIGKILLed at random points, resumed by the
// next one without manual unlocking, ends with the invariant exact and little work redone.
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { batchPutAll, loadMigration } from "@ferry/core";
import { generateWorkflows } from "@ferry/example-workflows";
import { readLock } from "@ferry/core/backfill/lock";
import { lifecycleContext } from "@ferry/core/lifecycle/lifecycle";
import { ensureControlTable } from "@ferry/core/control/control-table";
import { readCheckpoints } from "@ferry/core/backfill/state";
import type { PageTrace } from "@ferry/core/backfill/tasks";
import { seededRandom } from "@ferry/core/util/random";
import { describe, expect, it, onTestFinished } from "vitest";
import { childArgv } from "../support/cli.ts";
import { endpoint, freshPlainTable, testClients } from "../support/dynamo.ts";
import { invariantDiff } from "../support/invariant.ts";
import { beat, markAdded } from "../support/lifecycle.ts";

const root = join(import.meta.dirname, "../..");
const m1 = await loadMigration("0001");
const SEGMENTS = 4;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function ferry(args: string[], env: Record<string, string>): { child: ChildProcess; exited: Promise<Exit> } {
  const child = spawn(process.execPath, [...childArgv("backfill-child"), ...args], {
    cwd: root,
    env: { ...process.env, AWS_ENDPOINT_URL_DYNAMODB: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d) => (stdout += d));
  child.stderr?.on("data", (d) => (stderr += d));
  const exited = new Promise<Exit>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, exited };
}

type TraceLine = PageTrace & { pid: number };

function traceLines(file: string): TraceLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as TraceLine);
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("a backfill killed mid-run", () => {
  it("resumes after SIGKILLs at random points with the invariant exact and at most one page per segment redone per crash", async () => {
    const clients = testClients();
    const table = await freshPlainTable(clients, "crash");
    const controlTable = `${table}.ferry`;
    await batchPutAll(clients.doc, table, generateWorkflows({ tenants: 2, workflows: 500, contexts: 2, pool: 50, tasks: 3, itemKb: 1 }));
    // Convert's guards pass: the migration added, the dual-write live.
    await ensureControlTable(clients.raw, controlTable);
    const lifecycle = lifecycleContext({ clients, tableName: table, controlTable, migration: m1, actor: "ana" });
    await markAdded(lifecycle);
    await beat(lifecycle, Date.now());
    const trace = join(tmpdir(), `ferry-trace-${randomUUID()}.jsonl`);
    onTestFinished(() => rmSync(trace, { force: true }));
    const env = { FERRY_BACKFILL_TRACE: trace };
    const common = ["--table", table, "--endpoint", endpoint(), "--lease-ms", "1500"];
    const random = seededRandom(4_2026);
    const killed: number[] = [];

    // The first process dies right after a page's writes, before its checkpoint (the worst
    // moment); the others at random points. 400 items/s over 4 segments of 25-item pages.
    for (let crash = 0; crash < 3; crash++) {
      const args = crash === 0 ? ["convert", "0001", "--segments", String(SEGMENTS), "--page-size", "25", "--rate", "400"] : ["resume", "0001"];
      const { child, exited } = ferry([...args, ...common], crash === 0 ? { ...env, FERRY_TEST_KILL_AFTER_PAGES: "3" } : env);
      if (crash > 0) {
        await until(() => traceLines(trace).some((t) => t.pid === child.pid), 30_000);
        await new Promise((r) => setTimeout(r, Math.floor(random() * 500)));
        child.kill("SIGKILL");
      }
      const exit = await exited;
      expect(exit.signal, exit.stderr).toBe("SIGKILL");
      killed.push(child.pid!);
      // The dead process still holds the lock: the next resume has to take it over by itself.
      const lock = await readLock({ doc: clients.doc, controlTable, migrationId: m1.id });
      expect(lock?.owner).toMatch(new RegExp(`:${child.pid}$`));
    }

    const final = ferry(["resume", "0001", ...common, "--json"], env);
    const exit = await final.exited;
    expect(exit.code, exit.stderr).toBe(0);
    const summary = JSON.parse(exit.stdout);
    expect(summary.status).toBe("completed");
    // Counters come from checkpoints only: every source item counted exactly once.
    expect(summary.totals.sources).toBe(1_000);
    expect(await invariantDiff(clients, table, m1)).toMatchObject({ missing: [], orphans: [], different: [] });

    const pages = traceLines(trace).filter((t) => t.runId === summary.runId);
    const byPage = new Map<string, TraceLine[]>();
    for (const p of pages) byPage.set(`${p.segment}:${p.page}`, [...(byPage.get(`${p.segment}:${p.page}`) ?? []), p]);
    const checkpoints = (await readCheckpoints({ doc: clients.doc, controlTable, migrationId: m1.id })).filter((c) => c.runId === summary.runId);
    expect(checkpoints.every((c) => c.done)).toBe(true);
    // Every checkpointed page was traced, and nothing else: traced-but-not-saved pages were redone.
    expect(byPage.size).toBe(checkpoints.reduce((n, c) => n + c.pages, 0));
    for (const attempts of byPage.values()) {
      // A redone page starts where the checkpoint said: the same Scan position.
      expect(new Set(attempts.map((a) => JSON.stringify(a.startKey ?? null))).size).toBe(1);
    }
    const redone = [...byPage.values()].filter((a) => a.length > 1);
    for (const pid of killed) {
      const bySegment = new Map<number, number>();
      for (const attempts of redone) {
        if (attempts[0]!.pid === pid) bySegment.set(attempts[0]!.segment, (bySegment.get(attempts[0]!.segment) ?? 0) + attempts.length - 1);
      }
      for (const count of bySegment.values()) expect(count).toBeLessThanOrEqual(1);
    }
    expect(pages.length - byPage.size).toBeLessThanOrEqual(killed.length * SEGMENTS);
    // The page the first process traced last was never checkpointed: it was done again.
    const lastOfFirst = pages.filter((p) => p.pid === killed[0]).at(-1)!;
    expect(byPage.get(`${lastOfFirst.segment}:${lastOfFirst.page}`)).toHaveLength(2);
    // Each resume really took over (no manual unlock): every process converted pages.
    for (const pid of killed) expect(pages.some((p) => p.pid === pid)).toBe(true);
    expect(pages.some((p) => p.pid === final.child.pid)).toBe(true);
    // Five ferry processes (tsx start-up each) and a dozen calls per page: over a minute on a busy 2-core machine.
  }, 180_000);
});
