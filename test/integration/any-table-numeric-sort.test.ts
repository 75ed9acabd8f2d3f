// Issue 16, table 2: keys deviceId (S) / ts (N); device events re-partitioned by type, the
// derived records keeping the event's numeric sort key; fleet settings items stay untouched.
// The whole lifecycle through the CLI (test/support/any-table.ts).
import { describe, expect, it } from "vitest";
import { type AnyTableCase, runLifecycle } from "../support/any-table.ts";

const TYPES = ["click", "view", "error"];
const BASE = 1_764_000_000_000;
const pick = <T>(random: () => number, xs: T[]) => xs[Math.floor(random() * xs.length)]!;

const eventsTable: AnyTableCase = {
  migration: "0002",
  prefix: "anyts",
  keys: { partitionKey: { name: "deviceId", type: "S" }, sortKey: { name: "ts", type: "N" } },
  items: () => [
    ...["north", "south", "east"].map((name, i) => ({ deviceId: `FLEET#${name}`, ts: i, region: name, limits: { rate: 10 + i } })),
    // ts unique across devices: two events of one type never derive the same key.
    ...Array.from({ length: 200 }, (_, i) => ({ deviceId: `dev-${i % 10}`, ts: BASE + i * 37, type: TYPES[i % 3], value: i % 17 })),
  ],
  isSource: (item) => String(item.deviceId).startsWith("dev-"),
  fresh: (random, n) => ({ deviceId: `dev-${Math.floor(random() * 10)}`, ts: BASE + 1_000_000 + n, type: pick(random, TYPES), value: n % 13 }),
  change: (random, item) => ({ ...item, type: pick(random, TYPES), value: Math.floor(random() * 100) }),
};

describe("any table: keys deviceId (S) / ts (N), events by type", () => {
  it("check, plan, add, dual-write beside random writes, convert killed and resumed, verify, the move guard and rollback", async () => {
    const timings = await runLifecycle(eventsTable, 1602);
    console.info(`any-table deviceId/ts lifecycle: ${JSON.stringify(timings)}`);
    expect(Object.keys(timings)).toContain("rollback");
  }, 240_000);
});
