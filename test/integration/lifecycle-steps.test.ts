// The lifecycle step by step, in pgroll's style: for each step the table (and the state,
// release and events) after start, after complete and after rollback.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readBackupFile } from "@ferry/core/cleanup/backup";
import { restoreBackup } from "@ferry/core/cleanup/restore";
import { MigrationRemovedError } from "@ferry/core/lifecycle/guards";
import { addStep, convertStep, designStep, moveStep, removeStep, rollbackStep } from "@ferry/core/lifecycle/lifecycle";
import { readRelease } from "@ferry/core/release/store";
import { verifyMigration } from "@ferry/core/verify/verify-migration";
import { readMigrationState } from "@ferry/core/control/migration-state";
import { readMigrationStatus } from "@ferry/core/status/migration-status";
import { describe, expect, it } from "vitest";
import { dropTable, freshExampleTable } from "../support/dynamo.ts";
import { beat, clients, derivedOf, m1, m2, markAdded, seededTable, snapshot } from "../support/lifecycle.ts";

const DAY = 86_400_000;
const quiet = { verify: { recheckAfterMs: 0 } };

describe("design and add", () => {
  it("records design, then add with where dual-write began; a rollback marks it rolled back and add starts it over", async () => {
    const table = await freshExampleTable(clients, "lcadd");
    const { lifecycleContext } = await import("@ferry/core/lifecycle/lifecycle");
    const events: string[] = [];
    const ctx = lifecycleContext({ clients, tableName: table, migration: m1, actor: "ana", listeners: [(e) => events.push(`${e.step}:${e.event}`)] });
    try {
      await designStep(ctx);
      const added = await addStep(ctx);

      expect(added.completed).toBe(true);
      expect(added.state).toMatchObject({ step: "add", completed: { design: expect.any(String), add: expect.any(String) } });
      expect(added.state.dualWrite?.streamArn).toMatch(/stream/);
      expect(added.state.history.map((h) => `${h.step}:${h.event ?? "start"}`)).toEqual(["design:start", "design:complete", "add:start", "add:complete"]);

      const rolled = await rollbackStep(ctx);
      expect(rolled.state.status).toBe("rolled-back");
      const again = await addStep(ctx);
      expect(again.state).toMatchObject({ step: "add", status: "active" });
      expect(again.state.dualWrite?.streamArn).toBe(added.state.dualWrite?.streamArn);
      expect(events).toEqual([
        "design:start",
        "design:complete",
        "add:start",
        "add:complete",
        "rollback:start",
        "move:rollback",
        "convert:rollback",
        "add:rollback",
        "design:rollback",
        "rollback:complete",
        "add:start",
        "add:complete",
      ]);
    } finally {
      await dropTable(clients, table);
      await dropTable(clients, `${table}.ferry`);
    }
  });
});

describe("convert", () => {
  it("after start+complete the table holds every derived record and verifies clean; after rollback it is exactly as before", async () => {
    const s = await seededTable(60, "lcconv");
    const ctx = s.ctx(m1);
    await markAdded(ctx);
    await beat(ctx, s.time.now());
    const before = await snapshot(s.table);

    const converted = await convertStep(ctx, { settings: { segments: 2, rate: 100_000 } });

    expect(converted.completed).toBe(true);
    expect(converted.state).toMatchObject({ step: "convert", completed: { convert: expect.any(String) } });
    expect(converted.state.status ?? "active").toBe("active");
    const after = await snapshot(s.table);
    expect(derivedOf(after, m1.id)).toHaveLength(120);
    expect((await verifyMigration(clients, s.table, m1)).clean).toBe(true);

    s.time.advance(10 * 60_000); // the dual-write stopped: its heartbeat is old
    const rolled = await rollbackStep(ctx);

    expect(rolled.phases.find((p) => p.step === "add")?.did).toMatchObject({ deleted: 120, stopped: false });
    expect(await snapshot(s.table)).toEqual(before);
    expect(rolled.state).toMatchObject({ step: "rollback", status: "rolled-back", rollback: { deleted: 120 } });
  });
});

describe("move", () => {
  it("after start a canary split with verify recorded; after complete v2 at 100%; after rollback every tenant on v1 and no derived record left", async () => {
    const s = await seededTable(40, "lcmove");
    const ctx = s.ctx(m1);
    await markAdded(ctx);
    await beat(ctx, s.time.now());
    await convertStep(ctx, { settings: { segments: 2, rate: 100_000 } });
    const location = { doc: clients.doc, controlTable: s.controlTable, migrationId: m1.id };

    const canary = await moveStep(ctx, { to: "v2", percent: 25, shadow: 10, ...quiet });
    expect(canary.completed).toBe(false);
    expect(canary.state).toMatchObject({ step: "move", verification: { clean: true, missing: 0, orphans: 0, different: 0 } });
    expect(await readRelease(location)).toMatchObject({ v2Percent: 25, shadowPercent: 10 });

    const full = await moveStep(ctx, { to: "v2", percent: 100 });
    expect(full.completed).toBe(true);
    expect(full.state.completed?.move).toBeDefined();

    s.time.advance(10 * 60_000);
    await rollbackStep(ctx);
    const release = await readRelease(location);
    expect(release.v2Percent).toBe(0);
    expect(release.history.at(-1)).toMatchObject({ action: "move", actor: "ana", reason: "rollback", from: { v2Percent: 100 }, to: { v2Percent: 0 } });
    expect(derivedOf(await snapshot(s.table), m1.id)).toEqual([]);
  });
});

describe("remove", () => {
  it("after complete v1 is retired and tasks are gone (derived records stay); the backup restores exactly what was removed; rollback is refused", async () => {
    const s = await seededTable(40, "lcrm");
    const ctx = s.ctx(m2);
    await markAdded(ctx);
    await beat(ctx, s.time.now());
    await convertStep(ctx, { settings: { segments: 2, rate: 100_000 } });
    await moveStep(ctx, { to: "v2", percent: 100, ...quiet });
    const beforeRemove = await snapshot(s.table);
    s.time.advance(8 * DAY);
    const backupDir = mkdtempSync(join(tmpdir(), "ferry-backup-"));

    const removed = await removeStep(ctx, { backupDir, cleanup: { segments: 2, rate: 100_000 } });

    expect(removed.completed).toBe(true);
    expect(removed.state).toMatchObject({ step: "remove", status: "removed", removal: { backup: { kind: "file" }, cleanup: { removed: 40, skipped: 0 } } });
    expect((await readRelease({ doc: clients.doc, controlTable: s.controlTable, migrationId: m2.id })).v1RetiredAt).toBeDefined();
    const after = await snapshot(s.table);
    const sources = after.filter((i) => /^WF#[^#]+$/.test(String(i.SK)));
    expect(sources).toHaveLength(40);
    expect(sources.filter((i) => "tasks" in i)).toEqual([]);
    expect(derivedOf(after, m2.id)).toEqual(derivedOf(beforeRemove, m2.id));

    const file = removed.result.backup?.kind === "file" ? removed.result.backup.path : "";
    const backup = readBackupFile(file);
    expect(backup.header).toMatchObject({ migrationId: m2.id, tableName: s.table, removeAttributes: ["tasks"] });
    expect(backup.items).toHaveLength(40);

    const status = await readMigrationStatus({ clients, tableName: s.table, controlTable: s.controlTable }, m2);
    expect(status.lifecycle).toMatchObject({ status: "removed", removal: { backup: { kind: "file", path: file }, cleanup: { removed: 40 } } });
    await expect(rollbackStep(ctx)).rejects.toBeInstanceOf(MigrationRemovedError);
    const restored = await restoreBackup(clients, file);
    expect(restored).toMatchObject({ items: 40, restored: 40, present: 0, missing: 0 });
    expect(await snapshot(s.table)).toEqual(beforeRemove);
    const state = await readMigrationState({ doc: clients.doc, controlTable: s.controlTable, migrationId: m2.id });
    expect(state?.history.map((h) => `${h.step}:${h.event ?? "start"}`)).toEqual([
      "add:start",
      "convert:start",
      "convert:complete",
      "move:start",
      "move:complete",
      "remove:start",
      "remove:complete",
    ]);
  });
});
