// Two backfill rules with their own scenarios: --rate caps the source items a page writes
// (not every item its Scan reads), and a dry run keeps its own records, so it never replaces
// the real run that `ferry status` shows.
import { batchPutAll, loadMigration } from "@ferry/core";
import { generateWorkflows } from "@ferry/example-workflows";
import { conversionStatus, executionInput, newRun, startConversion } from "@ferry/core/backfill/control";
import { createBackfillTasks } from "@ferry/core/backfill/tasks";
import { ensureControlTable } from "@ferry/core/control/control-table";
import { describe, expect, it } from "vitest";
import { freshPlainTable, testClients } from "../support/dynamo.ts";

const m1 = await loadMigration("0001");

async function table(workflows: number, others: number) {
  const clients = testClients();
  const name = await freshPlainTable(clients, "bfr");
  const wf = generateWorkflows({ tenants: 1, workflows, contexts: 1, pool: 10, tasks: 1, itemKb: 1 });
  // Items the migration does not convert (other entities, or records a backfill already derived).
  const other = Array.from({ length: others }, (_, i) => ({ PK: "T#other", SK: `NOTE#${String(i).padStart(4, "0")}`, text: "x" }));
  await batchPutAll(clients.doc, name, [...wf, ...other]);
  const ctx = { clients, tableName: name, controlTable: `${name}.ferry`, migration: m1 };
  await ensureControlTable(clients.raw, ctx.controlTable);
  return ctx;
}

/** Runs one Page task of segment 0 and returns how long it chose to sleep to respect the rate. */
async function pacedPage(ctx: Awaited<ReturnType<typeof table>>, rate: number, dryRun = false) {
  const run = await newRun(dryRun ? { ...ctx, dryRun: true } : ctx, { segments: 1, pageSize: 1_000, rate, dryRun });
  const sleeps: number[] = [];
  const tasks = createBackfillTasks({
    doc: ctx.clients.doc,
    loadMigration: async () => m1,
    startExecution: async () => {},
    sleep: async (ms) => void sleeps.push(ms),
  });
  const started = Date.now();
  const result = await tasks.Page({ ...executionInput(ctx, run), segment: 0, pagesLeft: 10, openSegments: 1 });
  return { result, sleeps, elapsed: Date.now() - started };
}

describe("the backfill rate", () => {
  it("counts the source items a page writes, not the other items its Scan reads", async () => {
    const ctx = await table(20, 380);
    const { result, sleeps, elapsed } = await pacedPage(ctx, 20);
    expect(result.status).toBe("done");
    // 20 items written at 20 items/s take 1 s; counting all 400 scanned items would wait ~20 s.
    // A page that itself took a second on a loaded machine owes no wait at all.
    expect(sleeps.length).toBeLessThanOrEqual(1);
    expect(sleeps[0] ?? 0).toBeLessThanOrEqual(1_000);
    expect((sleeps[0] ?? 0) + elapsed).toBeGreaterThanOrEqual(990);
  });

  it("paces a dry run by the items it would convert", async () => {
    const ctx = await table(30, 270);
    const { sleeps, elapsed } = await pacedPage(ctx, 10, true);
    // 30 would-be conversions at 10/s: 3 s per page (not 30 s for 300 scanned items).
    expect(sleeps[0]! + elapsed).toBeGreaterThanOrEqual(2_990);
    expect(sleeps[0]).toBeLessThanOrEqual(3_000);
  });
});

describe("a dry run", () => {
  it("leaves the real run's record and checkpoints as they were, and keeps its own", async () => {
    const ctx = await table(200, 0);
    const real = await startConversion(ctx, { segments: 2, pageSize: 50, rate: 1e6 });
    expect(real.run.status).toBe("completed");
    const before = await conversionStatus(ctx);

    const dry = await startConversion(ctx, { segments: 3, pageSize: 40, rate: 1e6, dryRun: true });
    expect(dry.run.status).toBe("completed");
    expect(dry.run.runId).not.toBe(real.run.runId);
    expect(dry.totals.converted).toBe(200);
    expect(dry.totals.recordsWritten).toBe(0);

    const after = await conversionStatus(ctx);
    expect(after.run).toEqual(before.run);
    expect(after.checkpoints).toEqual(before.checkpoints);
    expect(after.totals.recordsWritten).toBe(200);
    const dryStatus = await conversionStatus({ ...ctx, dryRun: true });
    expect(dryStatus.run?.runId).toBe(dry.run.runId);
    expect(dryStatus.checkpoints).toHaveLength(3);
  });

  it("does not block on, nor unblock, a paused real run", async () => {
    const ctx = await table(50, 0);
    const real = await startConversion(ctx, { segments: 1, pageSize: 10, rate: 1e6, maxPagesPerExecution: 1 });
    expect(real.run.status).toBe("completed");
    // A paused real run refuses a plain convert; a dry run still runs beside it.
    const { updateRun } = await import("@ferry/core/backfill/state");
    await updateRun({ doc: ctx.clients.doc, controlTable: ctx.controlTable, migrationId: m1.id }, (r) => ({ ...r, status: "paused" }));
    const dry = await startConversion(ctx, { dryRun: true, rate: 1e6 });
    expect(dry.run.status).toBe("completed");
    expect((await conversionStatus(ctx)).run?.status).toBe("paused");
    await expect(startConversion(ctx, { rate: 1e6 })).rejects.toThrow(/is paused, not finished/);
  });
});
