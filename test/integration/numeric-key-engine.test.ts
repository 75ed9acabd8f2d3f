// Issue 16 through the engine API on DynamoDB Local: a table with a numeric simple primary key (`id`, N),
// a migration that declares no keys and selects its source with match: check, a backfill and the
// dual-write all work in the table's own key names and types, and other items stay untouched.
import { DeleteCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import {
  type DynamoClients,
  OWNER_ATTRIBUTE,
  StreamViewType,
  batchPutAll,
  defineMigration,
  deriveRecords,
  ensureTable,
  migrationOnTable,
  readKeySchema,
  sameRecord,
  sampleTable,
  verifyMigration,
  withTableKeys,
} from "@ferry/core";
import { startConversion } from "@ferry/core/backfill/control";
import { checkMigration } from "@ferry/core/design/check";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { dropTable, scanAll, testClients, uniqueTableName } from "../support/dynamo.ts";
import { startLiveDualWrite } from "../support/live-dual-write.ts";

const things = {
  id: "0001_orders-by-status",
  description: "one status record per order, keyed by a number of its own",
  table: "Things",
  // No `keys`: the table's (id, N) are read with DescribeTable.
  source: { match: (item: Record<string, unknown>) => item._type === "Order" },
  schema: z.object({ status: z.string() }),
};
const migration = defineMigration({
  ...things,
  derive: (order) => [{ id: 1_000_000 + (order.id as number), _type: "OrderStatus", status: order.status, order: order.id }],
});

const clients: DynamoClients = testClients();
const tables: string[] = [];
afterAll(async () => {
  for (const t of tables) await dropTable(clients, t);
});

async function numericTable(): Promise<string> {
  const name = uniqueTableName("num");
  await ensureTable(clients.raw, { logicalName: "Things", partitionKey: { name: "id", type: "N" }, streamViewType: StreamViewType.NEW_AND_OLD_IMAGES }, name);
  tables.push(name, `${name}.ferry`);
  return name;
}

const orders = Array.from({ length: 12 }, (_, i) => ({ id: i + 1, _type: "Order", status: i % 2 ? "open" : "shipped", total: i * 10 }));
const customers = Array.from({ length: 5 }, (_, i) => ({ id: 500 + i, _type: "Customer", name: `c${i}` }));

/** derive over the current orders, the way the invariant states it. */
function expectedRecords(items: Record<string, unknown>[], bound: typeof migration) {
  return items.filter((i) => i._type === "Order" && !(OWNER_ATTRIBUTE in i)).flatMap((o) => deriveRecords(bound, o));
}

const byId = (a: Record<string, unknown>, b: Record<string, unknown>) => (a.id as number) - (b.id as number);

describe("a table keyed by a number (id N, no sort key)", () => {
  it("reads the key schema from the table and checks derive in its types", async () => {
    const table = await numericTable();
    await batchPutAll(clients.doc, table, [...orders, ...customers]);
    expect(await readKeySchema(clients.raw, table)).toEqual({ partitionKey: { name: "id", type: "N" } });

    const sample = await sampleTable(clients, table, migration);
    const good = checkMigration(withTableKeys(migration, sample.keys, table), { sampleItems: sample.sources, otherKeys: sample.otherKeys });
    expect(good.checked.sample).toBe(12);
    expect(good.ok).toBe(true);

    // A string where the table's key is a number: rejected, naming the record and the attribute.
    const stringKeys = defineMigration({ ...things, derive: (order) => [{ id: `S#${String(order.id)}`, status: order.status }] });
    const bad = checkMigration(withTableKeys(stringKeys, sample.keys, table), { sampleItems: sample.sources });
    expect(bad.problems.invalidKeys.count).toBe(12);
    expect(bad.problems.invalidKeys.examples[0]!.message).toMatch(
      /^record 0 \(id="S#\d+"\): key attribute "id" must be a number \(the table's type N\), got the string "S#\d+"$/,
    );
  });

  it("backfills, dual-writes concurrent changes and verifies clean, leaving other items as they were", async () => {
    const table = await numericTable();
    const controlTable = `${table}.ferry`;
    await batchPutAll(clients.doc, table, [...orders, ...customers]);
    const bound = await migrationOnTable(clients.raw, migration, table);
    expect(bound.keys).toEqual({ partitionKey: { name: "id", type: "N" } });

    const live = await startLiveDualWrite(clients, table, controlTable, migration);
    try {
      const result = await startConversion({ clients, tableName: table, controlTable, migration });
      expect(result.run.status).toBe("completed");
      // Changes while the dual-write runs: a status change, a new order, a deleted order, a customer turned order.
      await clients.doc.send(
        new UpdateCommand({
          TableName: table,
          Key: { id: 2 },
          UpdateExpression: "SET #s = :s",
          ExpressionAttributeNames: { "#s": "status" },
          ExpressionAttributeValues: { ":s": "returned" },
        }),
      );
      await clients.doc.send(new PutCommand({ TableName: table, Item: { id: 99, _type: "Order", status: "open" } }));
      await clients.doc.send(new DeleteCommand({ TableName: table, Key: { id: 3 } }));
      await clients.doc.send(new PutCommand({ TableName: table, Item: { id: 504, _type: "Order", status: "new" } }));

      let derived: Record<string, unknown>[] = [];
      let expected: Record<string, unknown>[] = [];
      for (const started = Date.now(); Date.now() - started < 30_000; await new Promise((r) => setTimeout(r, 250))) {
        const items = await scanAll(clients, table);
        derived = items.filter((i) => OWNER_ATTRIBUTE in i).sort(byId);
        expected = expectedRecords(items, bound).sort(byId);
        if (derived.length === expected.length && derived.every((r, i) => sameRecord(r, expected[i]!))) break;
      }
      expect(derived).toEqual(expected);
      // Stamps carry the owner's key in the table's names and types.
      expect(derived.find((r) => r.id === 1_000_099)?.[OWNER_ATTRIBUTE]).toEqual({ migration: migration.id, owner: { id: 99 } });
      expect(derived.find((r) => r.id === 1_000_002)?.status).toBe("returned");
      expect(derived.some((r) => r.id === 1_000_003)).toBe(false);
      expect(derived.find((r) => r.id === 1_000_504)?.[OWNER_ATTRIBUTE]).toEqual({ migration: migration.id, owner: { id: 504 } });

      const report = await verifyMigration(clients, table, migration);
      expect({ missing: report.missing, orphans: report.orphans, different: report.different, clean: report.clean }).toEqual({
        missing: 0,
        orphans: 0,
        different: 0,
        clean: true,
      });
      const others = (await scanAll(clients, table)).filter((i) => i._type === "Customer").sort(byId);
      expect(others).toEqual(customers.filter((c) => c.id !== 504));
    } finally {
      await live.stop();
    }
  }, 120_000);
});
