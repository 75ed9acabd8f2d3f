// `ferry convert` as a user meets it through the real bin: a dual-write stopped with Ctrl-C
// does not pass the "dual-write live" guard on its young heartbeat; a missing table is a usage
// error before anything is created; --force --reason overrides at once instead of waiting out
// the liveness probe, and a probe says at once that it waits.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { describeTable, enableStream } from "@ferry/core";
import { WORKFLOWS_TABLE, generateWorkflows } from "@ferry/example-workflows";
import { readMigrationState } from "@ferry/core/control/migration-state";
import { readHeartbeat, recordHeartbeatStop } from "@ferry/core/dualwrite/heartbeat";
import { describe, expect, it } from "vitest";
import { ferryArgv, ferryBin } from "../support/cli.ts";
import { endpoint, uniqueTableName } from "../support/dynamo.ts";
import { beat, clients, m1, markAdded, seededTable } from "../support/lifecycle.ts";

const root = join(import.meta.dirname, "../..");

/** `ferry <args>` in the background, resolving `ready` once stdout matches `until`. */
function background(args: string[], until: RegExp) {
  const child = spawn(process.execPath, [...ferryArgv(), ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr })),
  );
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (d) => {
      stdout += d;
      if (until.test(stdout)) resolve();
    });
    void exited.then((r) => reject(new Error(`exited ${r.code} before ready: ${r.stderr}`)));
  });
  return { child, ready, exited };
}

async function until<T>(read: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A seeded table with its stream on and 0001 recorded as added (real time: the bin's guards read the wall clock). */
async function streamTable(prefix: string) {
  const s = await seededTable(20, prefix);
  await enableStream(clients.raw, WORKFLOWS_TABLE, s.table);
  const ctx = s.ctx(m1, { guards: {} });
  await markAdded(ctx);
  return { s, ctx, conn: ["--table", s.table, "--endpoint", endpoint()] };
}

describe("convert after the dual-write was stopped with Ctrl-C", () => {
  it("is refused (exit 3) although the heartbeat is seconds old, naming the stop; once a dual-write runs again it passes", async () => {
    const { s, conn } = await streamTable("cc-stop");
    const first = background(["dual-write", "0001", ...conn], /Press Ctrl-C to stop/);
    await first.ready;
    // One change applied: a fresh heartbeat.
    const [workflow] = [...generateWorkflows({ tenants: 1, workflows: 1, contexts: 1, pool: 5, tasks: 1, itemKb: 1 })];
    await clients.doc.send(new PutCommand({ TableName: s.table, Item: workflow }));
    await until(() => readHeartbeat(clients.doc, s.controlTable, m1.id));
    first.child.kill("SIGINT");
    expect((await first.exited).code).toBe(130);

    const refused = await ferryBin(["convert", "0001", ...conn, "--probe-timeout", "2s"]);

    expect(refused.code).toBe(3);
    const beat = await readHeartbeat(clients.doc, s.controlTable, m1.id);
    expect(Date.now() - (beat?.appliedAt ?? 0)).toBeLessThan(5 * 60_000);
    expect(beat).toMatchObject({ stoppedAt: expect.any(Number), stoppedBy: expect.stringMatching(/ferry dual-write, pid \d+, SIGINT/) });
    expect(refused.stderr).toMatch(
      /needs the dual-write live, but it was stopped at \S+ by .*SIGINT\), with nothing applied since, and a liveness ping written to the table was not applied within 2(\.\d)?s/,
    );
    const state = await readMigrationState({ doc: clients.doc, controlTable: s.controlTable, migrationId: m1.id });
    expect(state?.history.map((h) => h.step)).toEqual(["add"]);

    // Started again on the idle table: the probe's ping comes back through it, and convert runs.
    const second = background(["dual-write", "0001", ...conn], /Press Ctrl-C to stop/);
    await second.ready;
    try {
      const passed = await ferryBin(["convert", "0001", ...conn, "--json"]);
      expect(passed.code).toBe(0);
      expect(JSON.parse(passed.stdout.slice(passed.stdout.indexOf("{")))).toMatchObject({ status: "completed" });
    } finally {
      second.child.kill("SIGINT");
      await second.exited;
    }
  });
});

describe("rollback after a clean stop of the dual-write", () => {
  it("passes without --force once the stop is recorded after the last applied change; refused before", async () => {
    const { s, ctx, conn } = await streamTable("cc-rb");
    await beat(ctx, Date.now());
    const running = await ferryBin(["rollback", "0001", ...conn]);
    expect(running).toMatchObject({ code: 3, stderr: expect.stringMatching(/needs the dual-write stopped first/) });

    await recordHeartbeatStop(clients.doc, s.controlTable, m1.id, { at: Date.now(), by: "ana@host (ferry dual-write, pid 1, SIGINT)" });
    const stopped = await ferryBin(["rollback", "0001", ...conn]);

    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toMatch(/^Rolled back 0001_workflow-context-index/);
  });
});

describe("convert on a table that does not exist", () => {
  it.each([["--dry-run"], []])("exits 2 before creating anything (%s)", async (...flags) => {
    const missing = uniqueTableName("NoSuchTable");

    const run = await ferryBin(["convert", "0001", "--table", missing, "--endpoint", endpoint(), ...flags]);

    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`ferry: Table ${missing} does not exist. Pass --table (and --endpoint), or create it with \`ferry seed\`.\n`);
    expect(await describeTable(clients.raw, `${missing}.ferry`)).toBeUndefined();
  });
});

describe("convert --force --reason with no live dual-write", () => {
  it("overrides the guard at once, without waiting out the 30 s probe, and records the override", async () => {
    const { ctx, conn } = await streamTable("cc-force");
    const started = Date.now();

    const run = await ferryBin(["convert", "0001", ...conn, "--force", "--reason", "consumer checked by hand", "--json"]);

    expect(run.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(25_000);
    expect(run.stderr).not.toMatch(/probing/);
    const state = await readMigrationState({ doc: clients.doc, controlTable: ctx.controlTable, migrationId: m1.id });
    expect(state?.history.find((h) => h.step === "convert")).toMatchObject({ forced: ["dual-write-live"], reason: "consumer checked by hand" });
  });

  it("without --force says at once that it probes and how long it waits", async () => {
    const { conn } = await streamTable("cc-probe");

    const run = await ferryBin(["convert", "0001", ...conn, "--probe-timeout", "1s"]);

    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(
      /^Checking that the dual-write runs \(no fresh heartbeat\): probing it with a liveness ping to \S+, waiting up to 1s \(--probe-timeout\) for the dual-write to apply it\.\.\.\n/,
    );
  });
});
