// Issue 17's done-when for the `table` kind: a copy into a RE-KEYED target (source pk/sk S,
// target ctx S + rank N), through the real CLI: `ferry add`, `ferry dual-write` in its own
// process beside an application making >= 3,000 random inserts, updates and deletes,
// `convert` SIGKILLed after its second page and `resume`d; after the stream drains the target
// holds exactly derive(current source items) (computed by the test, not the engine), no
// orphan, no stale value, the source and the foreign target item untouched, `ferry verify`
// clean both ways; rollback deletes exactly this migration's records from the target.
import { randomUUID } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeleteCommand } from "@aws-sdk/lib-dynamodb";
import { loadMigration } from "@ferry/core";
import { afterEach, describe, expect, it, onTestFinished } from "vitest";
import { type CliResult, backfillProcess, converged, dualWriteProcess, ferry, jsonOf } from "../support/any-table.ts";
import { ferryBin } from "../support/cli.ts";
import { endpoint, scanAll, testClients } from "../support/dynamo.ts";
import { FAULT_NODE_OPTIONS } from "../support/faults.ts";
import { FOREIGN_ITEM, isSource, kindTableTables, shopWriter, targetInvariant } from "../support/kind-table.ts";

const DIR = join(import.meta.dirname, "../fixtures/migrations-kind-table");
const REF = "0001";
const OPERATIONS = 3_000;
/** One seed in `npm test` (CI's 15 minutes); FERRY_TEST_KIND_SEEDS=1,2,3 runs several (README "Tests"). */
const SEEDS = (process.env.FERRY_TEST_KIND_SEEDS ?? "1").split(",").map(Number);
const readCounts = (file: string): Record<string, number> => {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return {};
  }
};
const sortByKey = (items: Record<string, unknown>[]) => [...items].sort((a, b) => (JSON.stringify([a.pk, a.sk]) < JSON.stringify([b.pk, b.sk]) ? -1 : 1));

afterEach(() => {
  delete process.env.FERRY_TARGET_TABLE;
});

async function lifecycle(seed: number) {
  const t0 = Date.now();
  // KT_DEBUG=1 prints the time of each phase.
  const lap = (what: string) => process.env.KT_DEBUG && console.error(`seed ${seed} ${what} +${Date.now() - t0} ms`);
  const clients = testClients();
  const migration = await loadMigration(REF, DIR);
  const { table, target, sources, others } = await kindTableTables(clients, `kt${seed}`, 120, seed);
  // The stage's (here the test's) target table; child processes inherit it.
  process.env.FERRY_TARGET_TABLE = target;
  const conn = ["--table", table, "--endpoint", endpoint(), "--migrations-dir", DIR];
  const step = async (args: string[], code = 0) => {
    const result = await ferry([...args, ...conn]);
    expect(result.code, `ferry ${args.join(" ")}: ${result.stderr}`).toBe(code);
    return result;
  };

  await step(["add", REF, "--actor", "ana"]);
  lap("add");
  // The dual-write and convert meet 20% throttling and unprocessed items and keys, on both tables.
  const counted = (role: string) => {
    const file = join(tmpdir(), `ferry-kt-${role}-${randomUUID()}.json`);
    onTestFinished(() => {
      for (const f of [file, `${file}.tmp`]) rmSync(f, { force: true });
    });
    return file;
  };
  const counts = { dualWrite: counted("dual-write"), convert: counted("convert"), resume: counted("resume") };
  const faults = {
    NODE_OPTIONS: FAULT_NODE_OPTIONS,
    FERRY_TEST_FAULTS: JSON.stringify({
      throttleRate: 0.2,
      throttleOperations: ["PutItem", "DeleteItem", "Scan", "BatchGetItem", "BatchExecuteStatement", "TransactWriteItems", "Query"],
      // FERRY_TEST_THROTTLE=inside: throttling the SDK's retry strategy sees first, as DynamoDB's own.
      throttleInsideRetries: process.env.FERRY_TEST_THROTTLE === "inside",
      unprocessedKeysRate: 0.2,
      unprocessedRate: 0.2,
      tables: [table, target],
      seed,
    }),
  };
  const dualWrite = await dualWriteProcess(
    ["dual-write", REF, "--poll-interval", "50", ...conn],
    { ...process.env, AWS_ENDPOINT_URL_DYNAMODB: "", ...faults, FERRY_TEST_COUNT_FILE: counts.dualWrite },
    { bin: "real" },
  );
  const writer = shopWriter(testClients(), table, seed, sources, OPERATIONS);

  // convert, SIGKILLed right after its second page's writes (before the checkpoint), then resume.
  const trace = join(tmpdir(), `ferry-kt-${randomUUID()}.jsonl`);
  onTestFinished(() => rmSync(trace, { force: true }));
  const backfill = ["--lease-ms", "1000", ...conn];
  // Under CI's load the dual-write may lag the 3,000 writes by more than the default 30 s probe.
  const killed = backfillProcess(
    ["convert", REF, "--segments", "2", "--page-size", "10", "--rate", "300", "--probe-timeout", "3m", ...backfill],
    {
      FERRY_BACKFILL_TRACE: trace,
      FERRY_TEST_KILL_AFTER_PAGES: "2",
      ...faults,
      FERRY_TEST_COUNT_FILE: counts.convert,
    },
    { bin: "real" },
  );
  const exit = await killed.exited;
  lap(`convert killed, ${writer.writes} writes`);
  expect(exit.signal, exit.stderr).toBe("SIGKILL");
  expect(writer.writes, "the application writes while convert runs").toBeGreaterThan(0);
  const resumedRun = await ferryBin(
    ["resume", REF, "--json", ...backfill],
    { ...process.env, AWS_ENDPOINT_URL_DYNAMODB: "", ...faults, FERRY_TEST_COUNT_FILE: counts.resume },
    { bin: "real" },
  );
  expect(resumedRun.code, resumedRun.stderr).toBe(0);
  const resumed = jsonOf(resumedRun as CliResult);
  lap(`resumed, ${writer.writes} writes`);
  expect(resumed.status).toBe("completed");
  const writes = await writer.done;
  lap("writer done");
  expect(writes).toBeGreaterThanOrEqual(OPERATIONS);

  const report = await converged(() => targetInvariant(clients, table, target, migration.id), 90_000);
  lap(`converged ${JSON.stringify({ m: report.missing.length, o: report.orphans.length, s: report.stale.length })}`);
  expect(report).toMatchObject({ missing: [], orphans: [], stale: [] });
  expect(report.expected).toBeGreaterThan(100);
  // Both processes met the faults, and the dual-write dead-lettered nothing.
  const met = { dualWrite: readCounts(counts.dualWrite), convert: readCounts(counts.convert), resume: readCounts(counts.resume) };
  lap(`faults met ${JSON.stringify(met)}`);
  expect(met.dualWrite["fault throttled"]).toBeGreaterThan(50);
  expect(met.resume["fault throttled"]).toBeGreaterThan(0);
  expect(met.resume["fault unprocessedKeys"]).toBeGreaterThan(0);
  const status = jsonOf(await step(["status", REF, "--json"]));
  expect(status.dualWrite?.failedRecords ?? 0, "failure records of the dual-write").toBe(0);
  const verify = jsonOf(await step(["verify", REF, "--json"]));
  expect(verify).toMatchObject({ clean: true, missing: 0, orphans: 0, different: 0 });

  // The source holds only what the application wrote (no stamp, no mark); its other items as seeded.
  const source = await scanAll(clients, table);
  expect(source.filter((i) => "ferry" in i || "ferryCleanup" in i)).toEqual([]);
  expect(sortByKey(source.filter((i) => !isSource(i)))).toEqual(sortByKey(others));
  const foreign = (await scanAll(clients, target)).filter((i) => !("ferry" in i));
  expect(foreign).toEqual([FOREIGN_ITEM]);

  // verify finds a removed record and an orphan planted in the target, and repairs both.
  const derived = (await scanAll(clients, target)).filter((i) => "ferry" in i);
  await clients.doc.send(new DeleteCommand({ TableName: target, Key: { ctx: derived[0]?.ctx, rank: derived[0]?.rank } }));
  const { PutCommand } = await import("@aws-sdk/lib-dynamodb");
  await clients.doc.send(
    new PutCommand({ TableName: target, Item: { ctx: "CAT#none", rank: 1, ferry: { migration: migration.id, owner: { pk: "SHOP#0", sk: "ITEM#gone" } } } }),
  );
  const repaired = jsonOf(await step(["verify", REF, "--repair", "--json"]));
  expect(repaired).toMatchObject({ missing: 1, orphans: 1, repaired: { put: 1, deleted: 1 } });
  expect(await targetInvariant(clients, table, target, migration.id)).toMatchObject({ missing: [], orphans: [], stale: [] });

  // Rollback after a clean stop of the dual-write: only this migration's records leave the target.
  expect(await dualWrite.stop("SIGINT")).toBe(130);
  const before = sortByKey(await scanAll(clients, table));
  const rolled = jsonOf(await step(["rollback", REF, "--json"]));
  expect(rolled.status).toBe("rolled-back");
  expect(await scanAll(clients, target)).toEqual([FOREIGN_ITEM]);
  expect(sortByKey(await scanAll(clients, table))).toEqual(before);
  return { writes, expected: report.expected };
}

describe("the table kind: a copy into a re-keyed table", () => {
  it.each(SEEDS)(
    "seed %i: dual-write + killed and resumed convert beside 3,000 random writes; exact target, verify clean, rollback exact",
    async (seed) => {
      const { writes } = await lifecycle(seed);
      expect(writes).toBeGreaterThanOrEqual(OPERATIONS);
    },
    420_000,
  );
});
