// Rollback: exactly this migration's derived records go (full-table scans before/after),
// two migrations in flight on one table never touch each other, a second rollback is
// harmless, and a rollback stopped or killed midway continues where its pages were.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { readSweepRun } from "@ferry/core/cleanup/sweep";
import { ROLLBACK_SWEEP } from "@ferry/core/cleanup/delete-derived";
import { convertStep, moveStep, rollbackStep } from "@ferry/core/lifecycle/lifecycle";
import { readMigrationState } from "@ferry/core/control/migration-state";
import { readRelease } from "@ferry/core/release/store";
import { verifyMigration } from "@ferry/core/verify/verify-migration";
import { describe, expect, it } from "vitest";
import { ferryArgv } from "../support/cli.ts";
import { endpoint } from "../support/dynamo.ts";
import { beat, clients, derivedOf, m1, m2, markAdded, seededTable, snapshot } from "../support/lifecycle.ts";

const root = join(import.meta.dirname, "../..");
const fast = { settings: { segments: 2, rate: 100_000 } };
const without = (items: Record<string, unknown>[], migrationId: string) => items.filter((i) => !derivedOf([i], migrationId).length);

describe("ferry rollback", () => {
  it("with two migrations in flight on one table, rolls back one and leaves the other's records, state and release alone", async () => {
    const s = await seededTable(40, "rbtwo");
    const one = s.ctx(m1);
    const two = s.ctx(m2);
    // An application item that looks like a derived record but carries another owner.
    await clients.doc.send(new PutCommand({ TableName: s.table, Item: { PK: "t-x", SK: "NOTE#1", ferry: { migration: "0003_other" } } }));
    for (const ctx of [one, two]) {
      await markAdded(ctx);
      await beat(ctx, s.time.now());
      await convertStep(ctx, fast);
    }
    await moveStep(one, { to: "v2", percent: 25, verify: { recheckAfterMs: 0 } });
    const before = await snapshot(s.table);
    const oneState = await readMigrationState({ doc: clients.doc, controlTable: s.controlTable, migrationId: m1.id });
    expect(derivedOf(before, m1.id)).toHaveLength(80);
    expect(derivedOf(before, m2.id)).toHaveLength(120);

    s.time.advance(10 * 60_000);
    const rolled = await rollbackStep(two, { segments: 3, pageSize: 25 });

    expect(rolled.phases.find((p) => p.step === "add")?.did).toMatchObject({ deleted: 120 });
    expect(await snapshot(s.table)).toEqual(without(before, m2.id));
    expect(await readMigrationState({ doc: clients.doc, controlTable: s.controlTable, migrationId: m1.id })).toEqual(oneState);
    expect((await readRelease({ doc: clients.doc, controlTable: s.controlTable, migrationId: m1.id })).v2Percent).toBe(25);
    expect((await verifyMigration(clients, s.table, m1)).clean).toBe(true);
  });

  it("rolling back twice is harmless: the second finds nothing left and changes nothing", async () => {
    const s = await seededTable(20, "rbtwice");
    const ctx = s.ctx(m1);
    await markAdded(ctx);
    await beat(ctx, s.time.now());
    await convertStep(ctx, fast);
    const original = without(await snapshot(s.table), m1.id);
    s.time.advance(10 * 60_000);

    await rollbackStep(ctx);
    const second = await rollbackStep(ctx);

    expect(second).toMatchObject({ again: true, stopped: false, state: { status: "rolled-back" } });
    expect(Object.fromEntries(second.phases.map((p) => [p.step, p.did]))).toMatchObject({
      move: { flipped: false },
      convert: { backfill: "completed" },
      add: { deleted: 0, resumed: false },
    });
    expect(await snapshot(s.table)).toEqual(original);
    // Flipping to v1 (never refused) does not bring a rolled-back migration back to life.
    await expect(moveStep(ctx, { to: "v1" })).resolves.toMatchObject({ state: { status: "rolled-back" } });
  });

  it("stopped midway, continues from its checkpoints and ends with exactly the original items", async () => {
    const s = await seededTable(100, "rbstop");
    const ctx = s.ctx(m1);
    await markAdded(ctx);
    await beat(ctx, s.time.now());
    await convertStep(ctx, fast);
    const original = without(await snapshot(s.table), m1.id);
    s.time.advance(10 * 60_000);

    const controller = new AbortController();
    setTimeout(() => controller.abort(), 400);
    const first = await rollbackStep(ctx, { segments: 2, pageSize: 10, rate: 100, signal: controller.signal });

    expect(first.stopped).toBe(true);
    expect(first.state.status).toBe("rolling-back");
    const left = derivedOf(await snapshot(s.table), m1.id).length;
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(200);

    const second = await rollbackStep(ctx, { rate: 100_000 });
    expect(second).toMatchObject({ stopped: false, state: { status: "rolled-back" } });
    expect(second.phases.find((p) => p.step === "add")?.did).toMatchObject({ resumed: true, deleted: 200 });
    expect(await snapshot(s.table)).toEqual(original);
  });

  it("killed midway (SIGKILL of the CLI), `ferry rollback` again continues the same run", async () => {
    const s = await seededTable(100, "rbkill");
    const ctx = s.ctx(m1);
    await markAdded(ctx);
    await beat(ctx, s.time.now());
    await convertStep(ctx, fast);
    await beat(ctx, Date.now() - 3_600_000); // the dual-write stopped an hour ago
    const original = without(await snapshot(s.table), m1.id);
    const args = [...ferryArgv(), "rollback", "0001", "--table", s.table, "--endpoint", endpoint(), "--json"];

    const child = spawn(process.execPath, [...args, "--rate", "40", "--page-size", "5", "--segments", "2"], { cwd: root, stdio: "ignore" });
    const location = { kind: ROLLBACK_SWEEP, doc: clients.doc, controlTable: s.controlTable, migrationId: m1.id };
    for (let i = 0; i < 200 && !(await readSweepRun(location)); i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 1_000));
    child.kill("SIGKILL");
    await new Promise((r) => child.on("close", r));
    const killedRun = await readSweepRun(location);
    expect(killedRun?.status).toBe("running");
    expect(derivedOf(await snapshot(s.table), m1.id).length).toBeGreaterThan(0);

    const again = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    again.stdout.on("data", (d) => (out += d));
    const code = await new Promise((r) => again.on("close", r));
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ status: "rolled-back", phases: { add: { resumed: true, runId: killedRun?.runId } } });
    expect(await snapshot(s.table)).toEqual(original);
  });
});
