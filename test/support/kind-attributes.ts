// The attributes kind's done-when table for test/support/any-table.ts's lifecycle: a numeric
// simple primary key (`id`, N), orders and customers side by side, and a `byStatus` GSI keyed
// by the two attributes the migration sets on orders in place
// (test/fixtures/migrations-kind-attributes/0001). Its invariant and index check are computed
// here, without the engine.
import { join } from "node:path";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { AnyTableCase, InvariantReport, TableKeys } from "./any-table.ts";
import { keyString } from "./any-table.ts";
import { scanAll, type testClients } from "./dynamo.ts";

type Item = Record<string, unknown>;
export const KIND_ATTRIBUTES_MIGRATIONS = join(import.meta.dirname, "../fixtures/migrations-kind-attributes");
export const OWNED = ["gsi1pk", "gsi1sk"] as const;
export const TENANTS = ["t1", "t2", "t3"];
export const STATUSES = ["open", "paid", "shipped", "draft"];
const KEYS: TableKeys = { partitionKey: { name: "id", type: "N" } };
const pick = <T>(random: () => number, xs: T[]) => xs[Math.floor(random() * xs.length)]!;

/** The test's own derive: what an order should carry (none for a draft or a non-order). */
export function expectedOwned(item: Item): Item {
  if (item.type !== "order" || item.status === "draft") return {};
  return { gsi1pk: `${item.tenant}#${item.status}`, gsi1sk: item.placedAt };
}

const ownedOf = (item: Item) => Object.fromEntries(OWNED.filter((n) => item[n] !== undefined).map((n) => [n, item[n]]));

/** Every item's owned attributes against expectedOwned: missing, stale (different), orphans (held, none expected). */
export async function attributesInvariant(clients: ReturnType<typeof testClients>, table: string): Promise<InvariantReport> {
  const report: InvariantReport = { missing: [], orphans: [], stale: [], expected: 0 };
  for (const item of await scanAll(clients, table)) {
    const want = expectedOwned(item);
    const have = ownedOf(item);
    report.expected += Object.keys(want).length;
    for (const name of OWNED) {
      const at = `${keyString(KEYS, item)} ${name}`;
      if (want[name] === undefined && have[name] !== undefined) report.orphans.push(at);
      else if (want[name] !== undefined && have[name] === undefined) report.missing.push(at);
      else if (want[name] !== have[name]) report.stale.push(at);
    }
  }
  return report;
}

/** Queries the GSI for every tenant#status: each must return exactly the orders expectedOwned puts under it. */
export async function indexProblems(clients: ReturnType<typeof testClients>, table: string): Promise<string[]> {
  const items = await scanAll(clients, table);
  const problems: string[] = [];
  for (const tenant of TENANTS) {
    for (const status of STATUSES.filter((s) => s !== "draft")) {
      const value = `${tenant}#${status}`;
      const want = items
        .filter((i) => expectedOwned(i).gsi1pk === value)
        .map((i) => Number(i.id))
        .sort((a, b) => a - b);
      const got: number[] = [];
      let start: Item | undefined;
      do {
        const page = await clients.doc.send(
          new QueryCommand({
            TableName: table,
            IndexName: "byStatus",
            KeyConditionExpression: "gsi1pk = :v",
            ExpressionAttributeValues: { ":v": value },
            ExclusiveStartKey: start,
          }),
        );
        got.push(...(page.Items ?? []).map((i) => Number(i.id)));
        start = page.LastEvaluatedKey;
      } while (start);
      got.sort((a, b) => a - b);
      if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`${value}: index ${got.length} items, expected ${want.length}`);
    }
  }
  return problems;
}

/** The lifecycle case (hooks for counting and rollback are added by the test). */
export function ordersByStatusCase(orders: number, customers: number): AnyTableCase {
  return {
    migration: "0001",
    migrationsDir: KIND_ATTRIBUTES_MIGRATIONS,
    prefix: "kattr",
    keys: KEYS,
    indexes: [{ name: "byStatus", keys: { partitionKey: { name: "gsi1pk", type: "S" }, sortKey: { name: "gsi1sk", type: "N" } } }],
    items: () => [
      ...Array.from({ length: orders }, (_, n) => ({
        id: n + 1,
        type: "order",
        tenant: TENANTS[n % 3],
        status: STATUSES[n % 4],
        placedAt: 1_764_000_000 + n,
        note: `order ${n}`,
      })),
      ...Array.from({ length: customers }, (_, n) => ({ id: 50_000 + n, type: "customer", name: `customer ${n}`, tags: ["a", "b"] })),
    ],
    isSource: (item) => item.type === "order",
    fresh: (random, n) => ({
      id: 100_000 + n,
      type: "order",
      tenant: pick(random, TENANTS),
      status: pick(random, STATUSES),
      placedAt: 1_765_000_000 + n,
      note: "new",
    }),
    // Half the updates change what derive reads, half only the note (the whole item is put again, so ferry's attributes go and come back).
    change: (random, item) =>
      random() < 0.5
        ? { ...item, status: pick(random, STATUSES), placedAt: Math.floor(random() * 1_000_000) }
        : { ...item, note: `note ${Math.floor(random() * 1e6)}` },
    invariant: (clients, table) => attributesInvariant(clients, table),
    applicationView: (raw: Record<string, AttributeValue>) => {
      const { gsi1pk: _pk, gsi1sk: _sk, ...rest } = raw;
      return rest;
    },
    // One order loses an index key the dual-write set: after its clean stop, so nothing sets them again.
    moveDefect: {
      stopDualWriteFirst: true,
      async plant({ clients, table }) {
        const owned = (await scanAll(clients, table)).find((i) => i.gsi1pk !== undefined) as Record<string, unknown>;
        await clients.doc.send(new UpdateCommand({ TableName: table, Key: { id: owned.id }, UpdateExpression: "REMOVE gsi1pk" }));
      },
    },
  };
}
