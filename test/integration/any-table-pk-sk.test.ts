// Issue 16, table 1: keys pk/sk (strings); orders (pk=CUST#<n>, sk=ORDER#<id>) beside profile
// items that must stay untouched; the migration derives an orders-by-status index record
// per order. The whole lifecycle through the CLI (test/support/any-table.ts).
import { describe, expect, it } from "vitest";
import { type AnyTableCase, runLifecycle } from "../support/any-table.ts";

const STATUSES = ["open", "paid", "shipped", "cancelled"];
const pick = <T>(random: () => number, xs: T[]) => xs[Math.floor(random() * xs.length)]!;

const ordersTable: AnyTableCase = {
  migration: "0001",
  prefix: "anypk",
  keys: { partitionKey: { name: "pk", type: "S" }, sortKey: { name: "sk", type: "S" } },
  items: () =>
    Array.from({ length: 25 }, (_, n) => [
      { pk: `CUST#${n}`, sk: "PROFILE", name: `customer ${n}`, tags: ["a", "b"], since: 2020 + (n % 5) },
      ...Array.from({ length: 7 }, (_, o) => ({ pk: `CUST#${n}`, sk: `ORDER#${n * 100 + o}`, status: STATUSES[(n + o) % 4], total: n * 10 + o })),
    ]).flat(),
  isSource: (item) => String(item.sk).startsWith("ORDER#"),
  fresh: (random, n) => ({ pk: `CUST#${Math.floor(random() * 25)}`, sk: `ORDER#new-${n}`, status: pick(random, STATUSES), total: n }),
  change: (random, item) => ({ ...item, status: pick(random, STATUSES), total: Math.floor(random() * 1000) }),
};

describe("any table: keys pk/sk, orders beside profiles", () => {
  it("check, plan, add, dual-write beside random writes, convert killed and resumed, verify, the move guard and rollback", async () => {
    const timings = await runLifecycle(ordersTable, 1601);
    console.info(`any-table pk/sk lifecycle: ${JSON.stringify(timings)}`);
    expect(Object.keys(timings)).toContain("rollback");
  }, 240_000);
});
