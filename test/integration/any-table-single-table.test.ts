// Issue 16, table 3: a single-table design, keys id/sk, where the entity is an attribute:
// orders (_type "Order") are selected with `match`; their notes share the ORDER# sort-key
// prefix but are _type "Note", and users are _type "User": both stay untouched. The whole
// lifecycle through the CLI (test/support/any-table.ts).
import { describe, expect, it } from "vitest";
import { type AnyTableCase, runLifecycle } from "../support/any-table.ts";

const DAYS = ["2026-11-27", "2026-11-28", "2026-11-29", "2026-11-30"];
const pick = <T>(random: () => number, xs: T[]) => xs[Math.floor(random() * xs.length)]!;

const singleTable: AnyTableCase = {
  migration: "0003",
  prefix: "anyst",
  keys: { partitionKey: { name: "id", type: "S" }, sortKey: { name: "sk", type: "S" } },
  items: () =>
    Array.from({ length: 20 }, (_, org) => [
      { id: `ORG#${org}`, sk: `USER#${org}`, _type: "User", email: `u${org}@example.com` },
      ...Array.from({ length: 8 }, (_, o) => ({ id: `ORG#${org}`, sk: `ORDER#${o}`, _type: "Order", day: DAYS[(org + o) % 4], amount: org + o })),
      ...Array.from({ length: 2 }, (_, o) => ({ id: `ORG#${org}`, sk: `ORDER#${o}#NOTE#1`, _type: "Note", text: `note on order ${o}` })),
    ]).flat(),
  isSource: (item) => item._type === "Order",
  fresh: (random, n) => ({ id: `ORG#${Math.floor(random() * 20)}`, sk: `ORDER#new-${n}`, _type: "Order", day: pick(random, DAYS), amount: n }),
  change: (random, item) => ({ ...item, day: pick(random, DAYS), amount: Math.floor(random() * 500) }),
};

describe("any table: single-table design, orders selected by _type", () => {
  it("check, plan, add, dual-write beside random writes, convert killed and resumed, verify, the move guard and rollback", async () => {
    const timings = await runLifecycle(singleTable, 1603);
    console.info(`any-table single-table lifecycle: ${JSON.stringify(timings)}`);
    expect(Object.keys(timings)).toContain("rollback");
  }, 240_000);
});
