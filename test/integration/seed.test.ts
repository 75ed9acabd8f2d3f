import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { UnprocessedItemsError, batchPutAll, itemSize, writeUnits } from "@ferry/core";
import { generateWorkflows, seedTable } from "@ferry/example-workflows";
import { describe, expect, it } from "vitest";
import { freshPlainTable, scanAll, testClients, uniqueTableName } from "../support/dynamo.ts";
import { injectFaults } from "../support/faults.ts";

describe("seeding the example table", () => {
  it("creates the table from the shared definition and writes every generated item", async () => {
    const clients = testClients();
    const table = uniqueTableName("seed");
    const result = await seedTable(clients, table, { tenants: 2, workflows: 150, itemKb: 4, contexts: 2, pool: 30 });
    expect(result.tableCreated).toBe(true);
    expect(result.written).toBe(300);
    const items = await scanAll(clients, table);
    expect(items).toHaveLength(300);
    const expected = [...generateWorkflows(result.options)];
    const byKey = new Map(items.map((i) => [`${i.PK}|${i.SK}`, i]));
    for (const item of expected) expect(byKey.get(`${item.PK}|${item.SK}`)).toEqual(item);
  });

  it("retries UnprocessedItems with backoff until every item is written", async () => {
    const clients = testClients();
    const table = await freshPlainTable(clients);
    const faults = injectFaults(clients.raw, { unprocessedRate: 0.5, seed: 3 });
    const items = [...generateWorkflows({ tenants: 1, workflows: 500, itemKb: 1 })];
    const stats = await batchPutAll(clients.doc, table, items, {
      concurrency: 4,
      backoff: { baseMs: 1, maxMs: 20, maxAttempts: 20 },
    });
    expect(faults.unprocessedItems).toBeGreaterThan(50);
    expect(stats.retries).toBeGreaterThan(0);
    expect(stats.written).toBe(500);
    expect(await scanAll(clients, table)).toHaveLength(500);
  });

  it("fails with UnprocessedItemsError, naming the table, when items stay unprocessed", async () => {
    const clients = testClients();
    const table = await freshPlainTable(clients);
    injectFaults(clients.raw, { unprocessedRate: 1 });
    const items = [...generateWorkflows({ tenants: 1, workflows: 25, itemKb: 1 })];
    const run = batchPutAll(clients.doc, table, items, { backoff: { baseMs: 1, maxMs: 2, maxAttempts: 3 } });
    await expect(run).rejects.toBeInstanceOf(UnprocessedItemsError);
    await expect(run).rejects.toThrow(new RegExp(`by ${table} after 3 attempts`));
  });

  it("computes item sizes the way DynamoDB bills them", async () => {
    const clients = testClients();
    const table = await freshPlainTable(clients);
    for (const kb of [1, 3, 9.5, 40]) {
      const [item] = [...generateWorkflows({ tenants: 1, workflows: 1, itemKb: kb, seed: kb * 10 })];
      const out = await clients.doc.send(new PutCommand({ TableName: table, Item: item!, ReturnConsumedCapacity: "TOTAL" }));
      expect(out.ConsumedCapacity?.CapacityUnits).toBe(writeUnits(itemSize(item!)));
    }
  });
});
