import { PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { batchPutAll, deriveRecords, loadMigration, ownerOf } from "@ferry/core";
import { generateWorkflows } from "@ferry/example-workflows";
import { convertPage } from "@ferry/core/backfill/page";
import { packTransactions } from "@ferry/core/backfill/transactions";
import { sourceUnchangedCondition } from "@ferry/core/backfill/source-condition";
import { describe, expect, it } from "vitest";
import { freshPlainTable, scanAll, testClients } from "../support/dynamo.ts";

const m1 = await loadMigration("0001");
const m2 = await loadMigration("0002");

async function convertAll(clients: ReturnType<typeof testClients>, table: string, migration = m1, pageSize = 25) {
  let startKey: Record<string, unknown> | undefined;
  const totals = { converted: 0, deferred: 0, recordsWritten: 0, consumedWriteUnits: 0 };
  do {
    const r = await convertPage(clients.doc, table, migration, { segment: 0, totalSegments: 1, pageSize, startKey });
    for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += r.counters[k];
    startKey = r.lastKey;
  } while (startKey);
  return totals;
}

describe("a backfill page", () => {
  it("writes exactly the derived records of every source item, across pages", async () => {
    const clients = testClients();
    const table = await freshPlainTable(clients);
    const items = [...generateWorkflows({ tenants: 2, workflows: 60, contexts: 3, pool: 20, itemKb: 2 })];
    await batchPutAll(clients.doc, table, items);
    const totals = await convertAll(clients, table);
    expect(totals.converted).toBe(120);
    expect(totals.recordsWritten).toBe(360);
    const stamped = (await scanAll(clients, table)).filter((i) => ownerOf(i, m1.id));
    const expected = items.flatMap((i) => deriveRecords(m1, i));
    expect(stamped).toHaveLength(expected.length);
    expect(new Set(stamped.map((r) => r.SK))).toEqual(new Set(expected.map((r) => r.SK)));
  });

  it("defers an item changed after the read instead of writing records from the stale read", async () => {
    const clients = testClients();
    const table = await freshPlainTable(clients);
    const items = [...generateWorkflows({ tenants: 1, workflows: 10, contexts: 2, pool: 10, itemKb: 1 })];
    await batchPutAll(clients.doc, table, items);
    const victim = items[3]!;
    // A concurrent writer changes the victim's contexts between the Scan and the write.
    let struck = false;
    clients.raw.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "TransactWriteItemsCommand" && !struck) {
          struck = true;
          await clients.doc.send(
            new UpdateCommand({
              TableName: table,
              Key: { PK: victim.PK, SK: victim.SK },
              UpdateExpression: "SET contexts = :c",
              ExpressionAttributeValues: { ":c": [{ id: "ctx-new", name: "new" }] },
            }),
          );
        }
        return next(args);
      },
      { step: "initialize", name: "concurrentWriter" },
    );
    const result = await convertPage(clients.doc, table, m1, { segment: 0, totalSegments: 1, pageSize: 100 });
    expect(result.counters.deferred).toBe(1);
    expect(result.deferredKeys).toEqual([{ PK: victim.PK, SK: victim.SK }]);
    expect(result.counters.converted).toBe(9);
    const victimRecords = (await scanAll(clients, table)).filter((i) => ownerOf(i, m1.id)?.SK === victim.SK);
    expect(victimRecords).toEqual([]);
  });

  it("defers a deleted item and converts items whose non-schema fields changed", async () => {
    const clients = testClients();
    const table = await freshPlainTable(clients);
    const [a, b] = [...generateWorkflows({ tenants: 1, workflows: 2, itemKb: 1 })];
    await batchPutAll(clients.doc, table, [a!, b!]);
    const condA = sourceUnchangedCondition(m1, a!);
    expect(condA.ConditionExpression).toContain("#f0 = :v0");
    // b changes a field derive does not read: still safe to convert.
    await clients.doc.send(new PutCommand({ TableName: table, Item: { ...b!, status: "CANCELLED" } }));
    const totals = await convertAll(clients, table);
    expect(totals.converted).toBe(2);
  });

  it("splits an item with more records than one transaction holds, and packs small items together", async () => {
    const clients = testClients();
    const table = await freshPlainTable(clients);
    const [big] = [...generateWorkflows({ tenants: 1, workflows: 1, tasks: 0, itemKb: 1 })];
    const tasks = Array.from({ length: 150 }, (_, i) => ({ id: `t${i}`, name: "n", status: "TO_DO", started_at: "x", assignees: [], dueDate: "y" }));
    const m = { ...m2, options: { ...m2.options, maxRecordsPerItem: 200 } };
    await batchPutAll(clients.doc, table, [{ ...big!, tasks }]);
    const totals = await convertAll(clients, table, m);
    expect(totals.converted).toBe(1);
    expect(totals.recordsWritten).toBe(150);
    expect((await scanAll(clients, table)).filter((i) => ownerOf(i, m.id))).toHaveLength(150);

    const small = [...generateWorkflows({ tenants: 1, workflows: 40, contexts: 2, pool: 10 })].map((i) => ({
      key: { PK: i.PK, SK: i.SK },
      condition: sourceUnchangedCondition(m1, i),
      records: deriveRecords(m1, i),
    }));
    const calls = packTransactions(table, m1.keys!, m1.id, small);
    expect(calls.map((c) => c.reduce((n, p) => n + p.actions.length, 0))).toEqual([99, 21]);
  });

  it("reports items that fail the schema with their key, and writes the rest", async () => {
    const clients = testClients();
    const table = await freshPlainTable(clients);
    const [good, bad] = [...generateWorkflows({ tenants: 1, workflows: 2, itemKb: 1 })];
    await batchPutAll(clients.doc, table, [good!, { ...bad!, contexts: "oops" }]);
    const r = await convertPage(clients.doc, table, m1, { segment: 0, totalSegments: 1, pageSize: 10 });
    expect(r.counters.failed).toBe(1);
    expect(r.failures[0]).toMatchObject({ key: { SK: bad!.SK }, error: "SourceSchemaError" });
    expect(r.counters.converted).toBe(1);
  });

  it("writes nothing in a dry run but reports what it would write", async () => {
    const clients = testClients();
    const table = await freshPlainTable(clients);
    await batchPutAll(clients.doc, table, [...generateWorkflows({ tenants: 1, workflows: 20, contexts: 2, pool: 10 })]);
    const r = await convertPage(clients.doc, table, m1, { segment: 0, totalSegments: 1, pageSize: 100, dryRun: true });
    expect(r.wouldWrite).toBe(40);
    expect(r.counters.consumedWriteUnits).toBe(0);
    expect((await scanAll(clients, table)).filter((i) => ownerOf(i, m1.id))).toHaveLength(0);
  });
});
