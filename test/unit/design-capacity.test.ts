import { itemSize } from "@ferry/core";
import {
  dynamodbLocalWriteUnits,
  estimateItemWriteUnits,
  estimateScanReadUnits,
  itemTransactionActions,
  transactionWriteUnits,
} from "@ferry/core/design/capacity";
import { formatBytes, formatCount, formatDuration, formatUsd } from "@ferry/core/design/format";
import {
  ON_DEMAND_USD_PER_MILLION_READ_UNITS,
  ON_DEMAND_USD_PER_MILLION_WRITE_UNITS,
  PRICES_AS_OF,
  PRICING_REGION,
  onDemandCost,
} from "@ferry/core/design/pricing";
import { describe, expect, it } from "vitest";

/** An item of exactly `bytes` bytes as DynamoDB counts them. */
function sized(sk: string, bytes: number): { PK: string; SK: string; pad: string } {
  const base = { PK: "tenant-0001", SK: sk, pad: "" };
  return { ...base, pad: "x".repeat(bytes - itemSize(base)) };
}

describe("the write-unit model of one source item (AWS)", () => {
  it("charges 1 unit per started KB of each record's plain write, nothing for the source (the validate design)", () => {
    const source = sized("WF#a", 3_000); // 3 KB started: read by the validation, never written
    const records = [sized("CTX#1#WF#a", 1_024), sized("CTX#2#WF#a", 1_025)]; // 1 KB and 2 KB
    expect(estimateItemWriteUnits(source, records)).toBe(1 + 2);
  });

  it("charges nothing for an item that derives no record: the backfill skips it", () => {
    expect(estimateItemWriteUnits(sized("WF#a", 50_000), [])).toBe(0);
    expect(itemTransactionActions(sized("WF#a", 50_000), [])).toEqual([]);
  });

  it("a repair adds a ConditionCheck for every part of 99 Puts, as the backfill splits big items", () => {
    const source = sized("WF#a", 500);
    const records = Array.from({ length: 150 }, (_, i) => sized(`R#${i}`, 100));
    const actions = itemTransactionActions(source, records);
    expect(actions.filter((a) => a.kind === "ConditionCheck")).toHaveLength(2);
    expect(actions.filter((a) => a.kind === "Put")).toHaveLength(150);
    expect(transactionWriteUnits(actions)).toBe(2 * 2 + 2 * 150);
    // The page itself writes the records plainly: 1 unit each.
    expect(estimateItemWriteUnits(source, records)).toBe(150);
  });

  it("sizes each Put as the record as given, so the owner stamp the backfill writes counts", () => {
    const record = sized("R#1", 1_000);
    const stamped = { ...record, ferry: { migration: "0001_workflow-context-index", owner: { PK: "tenant-0001", SK: "WF#a" } } };
    expect(transactionWriteUnits([{ kind: "Put", bytes: itemSize(record) }])).toBe(2);
    expect(transactionWriteUnits([{ kind: "Put", bytes: itemSize(stamped) }])).toBe(4);
  });
});

describe("DynamoDB Local's transaction accounting", () => {
  it("counts 4 per KB for Puts, 4 per 4 KB for ConditionChecks, and equal costs once", () => {
    // Figures measured on DynamoDB Local 1.25.1 (see the integration test that re-measures them).
    expect(dynamodbLocalWriteUnits([{ kind: "Put", bytes: 100 }])).toBe(4);
    expect(dynamodbLocalWriteUnits(Array.from({ length: 10 }, () => ({ kind: "Put" as const, bytes: 900 })))).toBe(4);
    expect(dynamodbLocalWriteUnits([1_000, 2_000, 2_000, 3_000].map((bytes) => ({ kind: "Put" as const, bytes })))).toBe(24);
    expect(
      dynamodbLocalWriteUnits([
        { kind: "ConditionCheck", bytes: 9_000 },
        { kind: "Put", bytes: 1_000 },
        { kind: "Put", bytes: 3_000 },
      ]),
    ).toBe(16);
  });
});

describe("the read units of the backfill's Scan", () => {
  it("rounds each page up to 4 KB, as measured on a 300 x 3 KB table with pages of 50", () => {
    // Measured on DynamoDB Local: 6 pages of 153,600 bytes, 38 read units each = 228.
    expect(estimateScanReadUnits({ items: 300, bytes: 921_600, pageSize: 50, segments: 1 })).toBe(228);
  });

  it("stops pages at 1 MB and is zero for an empty table", () => {
    // 100 items of 100 KB: pages hold 10 items (1 MB) whatever the Limit.
    expect(estimateScanReadUnits({ items: 100, bytes: 100 * 102_400, pageSize: 100, segments: 1 })).toBe(10 * 250);
    expect(estimateScanReadUnits({ items: 0, bytes: 0, pageSize: 100, segments: 4 })).toBe(0);
  });

  it("is close to bytes / 4 KB for many small items over several segments", () => {
    const units = estimateScanReadUnits({ items: 1_000_000, bytes: 1_000_000 * 2_048, pageSize: 100, segments: 4 });
    expect(units).toBeGreaterThanOrEqual(500_000);
    expect(units).toBeLessThan(500_000 * 1.01);
  });
});

describe("on-demand prices", () => {
  it("are the us-east-1 prices of November 2024, per million request units", () => {
    expect(PRICING_REGION).toBe("us-east-1");
    expect(PRICES_AS_OF).toBe("2024-11-01");
    expect(ON_DEMAND_USD_PER_MILLION_WRITE_UNITS).toBe(0.625);
    expect(ON_DEMAND_USD_PER_MILLION_READ_UNITS).toBe(0.125);
  });

  it("turn units into dollars", () => {
    const cost = onDemandCost(4_000_000, 2_000_000);
    expect(cost.writeUsd).toBeCloseTo(2.5, 10);
    expect(cost.readUsd).toBeCloseTo(0.25, 10);
    expect(cost.totalUsd).toBeCloseTo(2.75, 10);
    expect(cost.prices.source).toMatch(/^https:\/\/aws\.amazon\.com\/dynamodb\/pricing\/on-demand\/$/);
  });
});

describe("formatting", () => {
  it("prints bytes, counts, durations and dollars for people", () => {
    expect([formatBytes(512), formatBytes(1_536), formatBytes(3 * 1024 ** 2)]).toEqual(["512 B", "1.5 KB", "3.0 MB"]);
    expect(formatCount(1_234_567.4)).toBe("1,234,567");
    expect([formatDuration(45), formatDuration(725), formatDuration(12_000), formatDuration(190_000)]).toEqual(["45 s", "12 min 5 s", "3 h 20 min", "2 d 4 h"]);
    expect([formatUsd(0.00028), formatUsd(1.234), formatUsd(1234.567)]).toEqual(["$0.00028", "$1.23", "$1,234.57"]);
  });
});
