// One set of backfill tuning limits (BACKFILL_LIMITS) for a migration's options and the flags
// of `ferry plan`, `ferry convert` and `ferry resume`, stated in their --help: a value one of
// them takes is never refused by another, through the real bin.
import { BACKFILL_LIMITS } from "@ferry/core/backfill/settings";
import { MigrationOptionsSchema } from "@ferry/core/definition/options";
import { describe, expect, it } from "vitest";
import { ferryBin } from "../support/cli.ts";
import { endpoint } from "../support/dynamo.ts";
import { seededTable } from "../support/lifecycle.ts";

describe("backfill limits", () => {
  it("a migration's options accept exactly BACKFILL_LIMITS", () => {
    for (const [name, limit] of Object.entries(BACKFILL_LIMITS)) {
      const at = (value: number) => MigrationOptionsSchema.partial().safeParse({ [name]: value }).success;
      expect([at(limit.min), at(limit.max), at(limit.min - 0.5), at(limit.max + 1)], name).toEqual([true, true, false, false]);
    }
  });

  it("plan, convert and resume refuse the values the migration options refuse (exit 2), with the same range", async () => {
    const s = await seededTable(10, "limits");
    const conn = ["--table", s.table, "--endpoint", endpoint()];
    const rate = `expected a number from 1 to 1000000`;
    const page = `expected an integer from 1 to 1000`;

    const runs = await Promise.all([
      ferryBin(["plan", "0001", ...conn, "--rate", "0.5"]),
      ferryBin(["plan", "0001", ...conn, "--rate", "2000000"]),
      ferryBin(["convert", "0001", ...conn, "--dry-run", "--rate", "2000000"]),
      ferryBin(["convert", "0001", ...conn, "--dry-run", "--page-size", "5000"]),
      ferryBin(["resume", "0001", ...conn, "--page-size", "5000"]),
    ]);

    expect(runs.map((r) => r.code)).toEqual([2, 2, 2, 2, 2]);
    expect(runs[0]?.stderr).toContain(`argument '0.5' is invalid. ${rate}`);
    expect(runs[1]?.stderr).toContain(`argument '2000000' is invalid. ${rate}`);
    expect(runs[2]?.stderr).toContain(`argument '2000000' is invalid. ${rate}`);
    expect(runs[3]?.stderr).toContain(`argument '5000' is invalid. ${page}`);
    expect(runs[4]?.stderr).toContain(`argument '5000' is invalid. ${page}`);
  });

  it("--help of plan, convert and resume states the ranges", async () => {
    const [plan, convert, resume] = await Promise.all([ferryBin(["plan", "--help"]), ferryBin(["convert", "--help"]), ferryBin(["resume", "--help"])]);
    const flat = (text: string) => text.replace(/\s+/g, " ");
    expect(flat(plan.stdout)).toMatch(/--rate <items\/s> backfill rate cap in source items\/s, 1 to 1,000,000/);
    for (const help of [convert, resume].map((r) => flat(r.stdout))) {
      expect(help).toMatch(/--rate <items\/s> cap in source items written per second across all segments, 1 to 1,000,000/);
      expect(help).toMatch(/--page-size <n> items per Scan page, 1 to 1,000/);
    }
    expect(flat(convert.stdout)).toMatch(/--segments <n> parallel Scan segments, 1 to 1,000/);
  });
});
