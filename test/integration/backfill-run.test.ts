import aslValidator from "asl-validator";
import { batchPutAll, loadMigration } from "@ferry/core";
import { generateWorkflows } from "@ferry/example-workflows";
import { conversionStatus, requestStop, resumeConversion, startConversion, BackfillUnfinishedError } from "@ferry/core/backfill/control";
import { backfillDefinition, backfillDefinitionText } from "@ferry/core/backfill/definition";
import { BackfillLockedError, acquireLock } from "@ferry/core/backfill/lock";
import { describe, expect, it, vi } from "vitest";
import { freshPlainTable, testClients } from "../support/dynamo.ts";
import { invariantDiff } from "../support/invariant.ts";

const m1 = await loadMigration("0001");
const m2 = await loadMigration("0002");

async function seeded(workflows: number, tasks = 3) {
  const clients = testClients();
  const table = await freshPlainTable(clients, "bf");
  await batchPutAll(clients.doc, table, generateWorkflows({ tenants: 2, workflows: workflows / 2, contexts: 2, pool: 50, tasks, itemKb: 1 }));
  return { clients, table, controlTable: `${table}.ferry` };
}

describe("the backfill state machine", () => {
  it("is a valid ASL definition with placeholders only for task ARNs", async () => {
    const definition = backfillDefinition();
    const { isValid, errorsText } = aslValidator(definition);
    expect(isValid, errorsText?.("\n")).toBe(true);
    expect([...backfillDefinitionText().matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]).sort()).toEqual(
      ["BackfillPageFunctionArn", "ContinueFunctionArn", "FinishFunctionArn", "PlanSegmentsFunctionArn", "RecordFailureFunctionArn"].sort(),
    );
  });

  it.each([
    ["0001", m1],
    ["0002", m2],
  ])("converts a table end to end for %s, leaving the invariant exact", async (_, migration) => {
    const { clients, table, controlTable } = await seeded(2_000);
    const result = await startConversion({ clients, tableName: table, controlTable, migration }, { segments: 4, pageSize: 100, rate: 1_000_000 });
    expect(result.run.status).toBe("completed");
    expect(result.totals.sources).toBe(2_000);
    expect(result.totals.converted).toBe(2_000);
    expect(await invariantDiff(clients, table, migration)).toMatchObject({ missing: [], orphans: [], different: [] });
  });

  it("continues as new executions before the history limit, and still converts everything", async () => {
    const { clients, table, controlTable } = await seeded(600);
    const result = await startConversion(
      { clients, tableName: table, controlTable, migration: m1 },
      { segments: 3, pageSize: 20, rate: 1_000_000, maxPagesPerExecution: 6 },
    );
    expect(result.run.status).toBe("completed");
    expect(result.executions.length).toBeGreaterThanOrEqual(5);
    // Each execution stays within its page budget: 6 pages plus the map's fixed events.
    const maxEvents = Math.max(...result.executions.map((e) => e.events));
    expect(maxEvents).toBeLessThan(6 * 8 + 40);
    expect(await invariantDiff(clients, table, m1)).toMatchObject({ missing: [], orphans: [], different: [] });
  });

  it("writes nothing in a dry run", async () => {
    const { clients, table, controlTable } = await seeded(200);
    const result = await startConversion({ clients, tableName: table, controlTable, migration: m1 }, { dryRun: true, rate: 1e6 });
    expect(result.run.status).toBe("completed");
    expect(result.totals.consumedWriteUnits).toBe(0);
    expect((await invariantDiff(clients, table, m1)).missing).toHaveLength(400);
  });

  it("refuses a second backfill while the lock is held, naming the holder", async () => {
    const { clients, table, controlTable } = await seeded(20);
    const ctx = { clients, tableName: table, controlTable, migration: m1 };
    await startConversion(ctx, { rate: 1e6 }); // creates the control table
    const lease = await acquireLock({ doc: clients.doc, controlTable, migrationId: m1.id }, "other-host:42");
    try {
      const second = startConversion(ctx, {}, { owner: "me:1", restart: true });
      await expect(second).rejects.toBeInstanceOf(BackfillLockedError);
      await expect(second).rejects.toThrow(/held by other-host:42 since/);
    } finally {
      await lease.release();
    }
  });

  it("pauses from another terminal after the current pages and resumes from the checkpoints", async () => {
    const { clients, table, controlTable } = await seeded(1_000);
    const ctx = { clients, tableName: table, controlTable, migration: m1 };
    // 200 items/s: the run takes ~5 s, long enough to pause it mid-way; the pause comes after
    // its first checkpoint (a loaded machine can take seconds to start the run).
    const running = startConversion(ctx, { segments: 2, pageSize: 50, rate: 200 }, { owner: "a:1" });
    const scanned = () =>
      conversionStatus(ctx).then(
        (s) => s.totals.scanned,
        () => 0,
      ); // the control table comes with the run
    await vi.waitUntil(async () => (await scanned()) > 0, { timeout: 60_000, interval: 50 });
    await requestStop(ctx, "pause");
    const paused = await running;
    expect(paused.run.status).toBe("paused");
    expect(paused.totals.scanned).toBeGreaterThan(0);
    expect(paused.totals.scanned).toBeLessThan(1_000);
    await expect(startConversion(ctx, {}, { owner: "b:2" })).rejects.toBeInstanceOf(BackfillUnfinishedError);
    const resumed = await resumeConversion(ctx, { rate: 1_000_000 }, { owner: "b:2" });
    expect(resumed.run.status).toBe("completed");
    // Nothing scanned twice: the counters add up to the table exactly.
    expect(resumed.totals.sources).toBe(1_000);
    expect(await invariantDiff(clients, table, m1)).toMatchObject({ missing: [], orphans: [], different: [] });
    const status = await conversionStatus(ctx);
    expect(status.lock).toBeUndefined();
  });
});
