// The backfill under faults DynamoDB Local never produces: throttling, transaction conflicts
// and a hard error. The run must end with the invariant exact, counting every item once.
import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { batchPutAll, type DynamoClients, loadMigration } from "@ferry/core";
import { generateWorkflows } from "@ferry/example-workflows";
import { resumeConversion, startConversion } from "@ferry/core/backfill/control";
import type { PageTrace } from "@ferry/core/backfill/tasks";
import { seededRandom } from "@ferry/core/util/random";
import { describe, expect, it } from "vitest";
import { freshPlainTable, testClients } from "../support/dynamo.ts";
import { injectFaults } from "../support/faults.ts";
import { invariantDiff } from "../support/invariant.ts";

const m1 = await loadMigration("0001");
const m2 = await loadMigration("0002");
const EXACT = { missing: [], orphans: [], different: [] };

async function seeded(workflows: number) {
  const clients = testClients();
  const table = await freshPlainTable(clients, "bff");
  await batchPutAll(clients.doc, table, generateWorkflows({ tenants: 2, workflows: workflows / 2, contexts: 2, pool: 50, tasks: 3, itemKb: 1 }));
  return { clients, table, controlTable: `${table}.ferry` };
}

/**
 * Cancels a share of TransactWriteItems calls with TransactionConflict on every action, and
 * answers a share of the page's write statements (BatchExecuteStatement) with
 * TransactionConflict, as DynamoDB does under contention.
 */
function injectConflicts(client: DynamoClients["raw"], rate: number, seed: number): { conflicts: number } {
  const random = seededRandom(seed);
  const counters = { conflicts: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const items = (args.input as { TransactItems?: unknown[] }).TransactItems;
      if (context.commandName === "TransactWriteItemsCommand" && items && random() < rate) {
        counters.conflicts++;
        throw new TransactionCanceledException({
          message: "Transaction cancelled (injected)",
          $metadata: {},
          CancellationReasons: items.map(() => ({ Code: "TransactionConflict" })),
        });
      }
      const statements = (args.input as { Statements?: unknown[] }).Statements;
      if (context.commandName === "BatchExecuteStatementCommand" && statements) {
        // Conflicted statements are not executed: only the others are sent, the answer keeps every position.
        const conflicted = statements.map(() => random() < rate);
        const sent = statements.filter((_, i) => !conflicted[i]);
        counters.conflicts += conflicted.filter(Boolean).length;
        const out = (sent.length > 0 ? await next({ ...args, input: { ...args.input, Statements: sent } }) : { output: { Responses: [] }, response: {} }) as {
          output: { Responses?: unknown[] };
        };
        const answers = [...(out.output.Responses ?? [])];
        out.output.Responses = conflicted.map((c) => (c ? { Error: { Code: "TransactionConflict", Message: "injected" } } : answers.shift()));
        return out as never;
      }
      return next(args);
    },
    { step: "serialize", priority: "high", name: "ferryTestConflicts" },
  );
  return counters;
}

/** Fails the first `count` Scans with an error no Retry matches. */
function injectHardScanFailures(client: DynamoClients["raw"], count: number): void {
  let left = count;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "ScanCommand" && left > 0) {
        left--;
        throw Object.assign(new Error("injected: the table's key schema changed"), { name: "ValidationException" });
      }
      return next(args);
    },
    { step: "serialize", priority: "high", name: "ferryTestHardFailure" },
  );
}

describe("the backfill under faults", () => {
  it("completes exactly under ~20% throttling of Scan, its writes and its validation reads, halving its rate after a burst", async () => {
    const { clients, table, controlTable } = await seeded(400);
    const faulty = testClients();
    const faults = injectFaults(faulty.raw, {
      // A burst of 30 throttled calls: the two segments' pages absorb at most 9 each by retrying, so one
      // outlasts its 10 tries and fails; the rate halves and the state machine's retry goes on.
      throttleFirst: 30,
      throttleRate: 0.2,
      throttleOperations: ["Scan", "BatchExecuteStatement", "BatchGetItem", "TransactWriteItems"],
      seed: 11,
    });
    const traces: PageTrace[] = [];
    const rate = 100_000;
    const result = await startConversion(
      { clients: faulty, tableName: table, controlTable, migration: m1, onPage: (t) => void traces.push(t) },
      { segments: 2, pageSize: 40, rate },
      { retryIntervalMs: 5 },
    );
    expect(faults.throttled).toBeGreaterThanOrEqual(3);
    expect(result.run.status).toBe("completed");
    expect(result.totals.sources).toBe(400);
    expect(result.totals.converted).toBe(400);
    // The adaptive throttle halved the rate after the throttled page; later pages ran at the lower rate.
    expect(Math.min(...traces.map((t) => t.effectiveRate))).toBeLessThanOrEqual(rate / 2);
    expect(await invariantDiff(clients, table, m1)).toMatchObject(EXACT);
  });

  it("completes exactly when ~20% of its writes meet transaction conflicts", async () => {
    const { clients, table, controlTable } = await seeded(400);
    const faulty = testClients();
    const injected = injectConflicts(faulty.raw, 0.2, 5);
    const result = await startConversion(
      { clients: faulty, tableName: table, controlTable, migration: m2 },
      { segments: 2, pageSize: 20, rate: 100_000 },
      { retryIntervalMs: 5 },
    );
    expect(injected.conflicts).toBeGreaterThanOrEqual(3);
    expect(result.run.status).toBe("completed");
    expect(result.totals).toMatchObject({ sources: 400, converted: 400, deferred: 0 });
    expect(await invariantDiff(clients, table, m2)).toMatchObject(EXACT);
  });

  it("records a hard failure in the run and resumes from the checkpoints once it is gone", async () => {
    const { clients, table, controlTable } = await seeded(200);
    const faulty = testClients();
    // Let the first pages through, then fail one Scan for good.
    let scans = 0;
    faulty.raw.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "ScanCommand") scans++;
        return next(args);
      },
      { step: "initialize", name: "countScans" },
    );
    const ctx = { clients: faulty, tableName: table, controlTable, migration: m1 };
    const started = startConversion(ctx, { segments: 1, pageSize: 20, rate: 100_000 }, { retryIntervalMs: 5 });
    while (scans < 3) await new Promise((r) => setTimeout(r, 5));
    injectHardScanFailures(faulty.raw, 1);
    const failed = await started;
    expect(failed.run.status).toBe("failed");
    expect(failed.run.lastError).toMatchObject({ name: "ValidationException" });
    expect(failed.run.lastError?.message).toMatch(/key schema changed/);
    expect(failed.totals.scanned).toBeGreaterThan(0);
    expect(failed.totals.scanned).toBeLessThan(200);

    const resumed = await resumeConversion({ ...ctx, clients }, {}, { retryIntervalMs: 5 });
    expect(resumed.run.status).toBe("completed");
    expect(resumed.totals.sources).toBe(200);
    expect(await invariantDiff(clients, table, m1)).toMatchObject(EXACT);
  });
});
