// `ferry status`: every migration of the folder with its step, backfill progress, dual-write
// lag and last error, or one in detail, from the control table of a real table on DynamoDB
// Local after `add` and a small backfill.
import { batchPutAll, loadMigration } from "@ferry/core";
import { generateWorkflows } from "@ferry/example-workflows";
import { startConversion } from "@ferry/core/backfill/control";
import { startAdd } from "@ferry/core/lifecycle/phases/add";
import { emptyCounters, writeHeartbeat } from "@ferry/core/dualwrite/heartbeat";
import { readMigrationStatus } from "@ferry/core/status/migration-status";
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { statusCommand } from "../../packages/cli/src/commands/status.ts";
import { verifyCommand } from "../../packages/cli/src/commands/verify.ts";
import { captureOutput } from "../support/cli.ts";
import { endpoint, freshExampleTable, testClients } from "../support/dynamo.ts";

const m1 = await loadMigration("0001");

const { stdout } = captureOutput();

async function ferry(...args: string[]): Promise<void> {
  const program = new Command("ferry").exitOverride();
  program.addCommand(statusCommand().exitOverride());
  program.addCommand(verifyCommand().exitOverride());
  await program.parseAsync(args, { from: "user" });
}
const json = () => JSON.parse(stdout.join(""));

/** A table with 100 workflows; 0001 added (dual-write recorded) and converted. */
async function addedAndConverted() {
  const clients = testClients();
  // add needs the stream; 100 items keep DynamoDB Local's stream slowdown out of the way.
  const table = await freshExampleTable(clients, "st");
  await batchPutAll(clients.doc, table, generateWorkflows({ tenants: 1, workflows: 100, contexts: 2, pool: 20, tasks: 1, itemKb: 1 }));
  const controlTable = `${table}.ferry`;
  await startAdd(clients, m1, { tableName: table, controlTable, actor: "alice" });
  const ctx = { clients, tableName: table, controlTable, migration: m1 };
  await startConversion(ctx, { segments: 2, pageSize: 30, rate: 1e6 });
  return { clients, table, controlTable, ctx, conn: ["--table", table, "--endpoint", endpoint()] };
}

describe("ferry status", () => {
  it("lists every migration in the folder, also before anything was added", async () => {
    const clients = testClients();
    const table = await freshExampleTable(clients, "st0");
    await ferry("status", "--table", table, "--endpoint", endpoint(), "--json");
    const out = json();
    expect(out.table).toBe(table);
    expect(out.migrations.map((m: { migrationId: string }) => m.migrationId)).toEqual([
      "0001_workflow-context-index",
      "0002_split-workflow-tasks",
      "0003_workflow-status-index",
      "0004_workflows-by-context-table",
    ]);
    expect(out.migrations[0]).toMatchObject({ step: null, backfill: null, dualWrite: null, lastError: null, history: [] });
  });

  it("names each migration's kind and what it owns: records, attributes and their index, the target table", async () => {
    // Arrange
    const clients = testClients();
    const table = await freshExampleTable(clients, "stk");
    // Act
    await ferry("status", "--table", table, "--endpoint", endpoint(), "--json");
    const kinds = json().migrations.map((m: { kind: unknown }) => m.kind);
    stdout.length = 0;
    await ferry("status", "--table", table, "--endpoint", endpoint());
    const list = stdout.join("");
    stdout.length = 0;
    await ferry("status", "0003", "--table", table, "--endpoint", endpoint());
    const attributes = stdout.join("");
    stdout.length = 0;
    await ferry("status", "0004", "--table", table, "--endpoint", endpoint());
    const copy = stdout.join("");
    // Assert
    expect(kinds).toEqual([
      { name: "records" },
      { name: "records", cleanup: { removeAttributes: ["tasks"] } },
      { name: "attributes", attributes: ["byStatusPk", "byStatusSk"], index: "byStatus" },
      { name: "table", target: "WorkflowsByContext" },
    ]);
    expect(list).toMatch(/migration\s+kind\s+step\s+backfill/);
    expect(list).toMatch(/0001_workflow-context-index\s+records\s+not added/);
    expect(list).toMatch(/0003_workflow-status-index\s+attributes byStatusPk, byStatusSk \(index byStatus\)\s+not added/);
    expect(list).toMatch(/0004_workflows-by-context-table\s+table -> WorkflowsByContext\s+not added/);
    expect(attributes).toMatch(/kind\s+attributes byStatusPk, byStatusSk on the source items, feeding index byStatus/);
    expect(copy).toMatch(/kind\s+table: records copied into WorkflowsByContext/);
  });

  it("says the table is missing (exit 2) instead of listing every migration as not added", async () => {
    const missing = ferry("status", "--table", "Missing", "--endpoint", endpoint());
    await expect(missing).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/Table Missing does not exist.*--table.*ferry seed/) });
    expect(stdout.join("")).toBe("");
  });

  it("shows each migration's step, backfill progress, dual-write lag, verify result and last error", async () => {
    const { clients, controlTable, conn } = await addedAndConverted();
    // verify keeps its result with the added migration; 0002 was never added and gets none.
    await ferry("verify", "0001", ...conn, "--json");
    await ferry("verify", "0002", ...conn, "--json").catch(() => undefined);
    stdout.length = 0;
    const now = Date.now();
    await writeHeartbeat(clients.doc, controlTable, m1.id, "dual-write", {
      newestCreatedAt: now - 1_500,
      appliedAt: now - 500,
      sequenceNumber: "42",
      counters: { ...emptyCounters(), applied: 7 },
      lastBatch: emptyCounters(),
    });

    await ferry("status", ...conn, "--json");
    const [first, second] = json().migrations;
    expect(first).toMatchObject({
      migrationId: m1.id,
      step: "add",
      history: [{ step: "add", actor: "alice" }],
      backfill: { run: { status: "completed" }, progress: { scanned: 100, ratio: 1 }, totals: { converted: 100 }, active: false, stale: false },
      dualWrite: { lag: { lagMs: 1_000 }, counters: { applied: 7 }, failedRecords: 0 },
      lastError: null,
      lifecycle: { verification: { clean: true, missing: 0, orphans: 0, different: 0 } },
    });
    expect(first.dualWrite.since).toBeTypeOf("string");
    expect(second.lifecycle).toBeNull();
    expect(second).toMatchObject({ migrationId: "0002_split-workflow-tasks", step: null, backfill: null });

    stdout.length = 0;
    await ferry("status", ...conn);
    const text = stdout.join("");
    expect(text).toMatch(/migration\s+kind\s+step\s+backfill\s+ETA\s+dual-write lag\s+verify\s+traffic\s+shadow\s+last error/);
    expect(text).toMatch(/0001_workflow-context-index\s+records\s+add\s+\[#{20}\] 100\.0% completed\s+-\s+1 s.*clean \(\d+ s ago\)\s+v1/);

    // The move step shows up: split, shadow agreement, audit trail.
    const { moveRelease } = await import("@ferry/core/release/store");
    const { recordShadow } = await import("@ferry/core/release/shadow");
    const release = { doc: clients.doc, controlTable, migrationId: m1.id };
    await moveRelease(release, { to: "v2", percent: 25, shadow: 10, actor: "bob" });
    // One comparison agreed, one disagreed and agreed on its re-check (the dual-write's lag).
    await recordShadow(release, { kind: "compared", agreed: true });
    await recordShadow(release, { kind: "compared", agreed: false });
    await recordShadow(release, { kind: "lagged" });
    stdout.length = 0;
    await ferry("status", ...conn, "--json");
    expect(json().migrations[0].release).toMatchObject({
      split: "v2 for 25% of tenants, v1 for the rest",
      shadow: { compared: 2, agreed: 1, disagreed: 1, lagged: 1, persistent: 0, agreement: 0.5, agreementAfterRecheck: 1 },
    });
    stdout.length = 0;
    await ferry("status", ...conn);
    expect(stdout.join("")).toMatch(/50\.0% raw, 100\.0% re-checked of 2/);
    stdout.length = 0;
    await ferry("status", "0001", ...conn);
    expect(stdout.join("")).toMatch(
      /move:\n\s+traffic: v2 for 25% of tenants[^\n]*\n\s+shadow agreement: 50\.0% raw, 100\.0% after re-check of 2 comparisons \(1 lagged, 0 persistent\)/,
    );
    expect(stdout.join("")).toMatch(/bob: move v2 0% -> 25%/);
    expect(text).toMatch(/0002_split-workflow-tasks\s+records\s+not added\s+no backfill/);
  });

  it("shows one migration in detail: segments, rates, history, the last dry run, and a backfill error", async () => {
    const { ctx, conn } = await addedAndConverted();
    await startConversion(ctx, { rate: 1e6, dryRun: true });
    const { updateRun } = await import("@ferry/core/backfill/state");
    const at = Date.now();
    await updateRun({ doc: ctx.clients.doc, controlTable: ctx.controlTable, migrationId: m1.id }, (r) => ({
      ...r,
      lastError: { name: "ThrottlingException", message: "Rate exceeded", at },
    }));

    await ferry("status", "0001", ...conn);
    const text = stdout.join("");
    expect(text).toMatch(/backfill\s+completed, run /);
    expect(text).toMatch(/progress\s+\[#{20}\] 100\.0% 100 of ~\d+ item\(s\) scanned/);
    expect(text).toMatch(/rate\s+cap 1,000,000 items written\/s/);
    expect(text).toMatch(/segment\s+pages\s+scanned\s+converted/);
    expect(text).toMatch(/last error\s+backfill: ThrottlingException: Rate exceeded/);
    expect(text).toMatch(/last dry run\s+completed, 100 item\(s\) would convert/);
    expect(text).toMatch(/history:\n\s+\S+ add by alice/);

    const status = await readMigrationStatus(ctx, m1);
    expect(status.backfill?.checkpoints).toHaveLength(2);
    expect(status.backfill?.totals.recordsWritten).toBe(200);
    expect(status.lastDryRun).toMatchObject({ status: "completed", totals: { converted: 100, recordsWritten: 0 } });
    expect(status.lastError).toMatchObject({ source: "backfill", name: "ThrottlingException", at });
  });
});
