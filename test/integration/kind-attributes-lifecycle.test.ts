// Issue 17's done-when for the attributes kind: a table keyed by a number alone (`id`, N) with
// a byStatus GSI fed by the two attributes the migration sets on orders in place. The whole
// lifecycle through the CLI (test/support/any-table.ts): check, plan, add, `ferry dual-write`
// in its own process beside an application making thousands of random inserts, updates and
// deletes, `convert` SIGKILLed mid-run and resumed, both processes meeting 20% throttling and
// unprocessed keys at their SDK middleware; then, once the stream drained: every item's owned
// attributes equal the test's own derive, nothing else changed, the index answers every
// tenant#status, verify is clean, the dual-write's own updates caused no further write (counted
// at its SDK middleware), and rollback removes exactly ferry's values.
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { marshall } from "@aws-sdk/util-dynamodb";
import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { readHeartbeat } from "@ferry/core/dualwrite/heartbeat";
import { describe, expect, it, onTestFinished } from "vitest";
import { type AnyTableCase, runLifecycle } from "../support/any-table.ts";
import { FAULT_NODE_OPTIONS } from "../support/faults.ts";
import { indexProblems, ordersByStatusCase } from "../support/kind-attributes.ts";

const WRITES = Number(process.env.FERRY_TEST_KIND_WRITES ?? 3_000);

/** Calls per "Operation table" the dual-write process made (its SDK middleware writes them). */
const readCounts = (file: string): Record<string, number> => {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return {};
  }
};

async function stableCount(file: string, name: string, quietMs = 2_000, timeoutMs = 30_000): Promise<number> {
  const until = Date.now() + timeoutMs;
  let last = readCounts(file)[name] ?? 0;
  let since = Date.now();
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 200));
    const now = readCounts(file)[name] ?? 0;
    if (now !== last) [last, since] = [now, Date.now()];
    else if (Date.now() - since >= quietMs) return now;
  }
  return last;
}

function withFaultsAndCounts(seed: number): { c: AnyTableCase; counts: string } {
  const counts = join(tmpdir(), `ferry-kattr-${randomUUID()}.json`);
  onTestFinished(() => {
    for (const f of [counts, `${counts}.tmp`]) rmSync(f, { force: true });
  });
  const c = ordersByStatusCase(120, 15);
  c.writes = { min: WRITES, parallel: 4, batch: 10 };
  // Both processes meet the faults; only the dual-write's calls are counted.
  c.processEnv = ({ table, process: role }): Record<string, string> => ({
    NODE_OPTIONS: FAULT_NODE_OPTIONS,
    FERRY_TEST_FAULTS: JSON.stringify({
      throttleRate: 0.2,
      throttleOperations: ["UpdateItem", "Scan", "BatchGetItem", "Query"],
      unprocessedKeysRate: 0.2,
      tables: [table],
      seed,
    }),
    ...(role === "dual-write" ? { FERRY_TEST_COUNT_FILE: counts } : {}),
  });
  c.afterDrain = async ({ clients, table, controlTable, migration, writes }) => {
    expect(await indexProblems(clients, table)).toEqual([]);
    // The dual-write's updates of the data table stop once the stream drained: its own updates
    // came back as "unchanged", not as more writes.
    const name = `UpdateItem ${table}`;
    const settled = await stableCount(counts, name);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(readCounts(counts)[name] ?? 0).toBe(settled);
    const beat = await readHeartbeat(clients.doc, controlTable, migration.id);
    // Each application write causes at most one update of the dual-write; a loop would not stop.
    expect((beat?.written ?? 0) + (beat?.superseded ?? 0)).toBeLessThanOrEqual(writes);
    expect(beat?.unchanged ?? 0).toBeGreaterThan(0);
    // The injected throttling reached it: more calls than updates (each throttled one was sent again).
    expect(settled).toBeGreaterThan((beat?.written ?? 0) + (beat?.superseded ?? 0));
    console.info(
      `kind attributes: ${writes} application writes; dual-write updates landed ${beat?.written}, superseded ${beat?.superseded}, ` +
        `records unchanged ${beat?.unchanged}, UpdateItem calls (throttled retries included) ${settled}`,
    );
  };
  c.beforeRollback = async ({ clients, table }, applicationTable) => {
    // The application sets an owned attribute to its own value: rollback must leave it.
    const target = applicationTable.find((raw) => raw.type?.S === "order" && raw.status?.S !== "draft");
    if (!target) throw new Error("no order to write");
    const id = Number(target.id?.N);
    await clients.doc.send(
      new UpdateCommand({ TableName: table, Key: { id }, UpdateExpression: "SET gsi1pk = :v", ExpressionAttributeValues: { ":v": "app#own" } }),
    );
    return applicationTable.map((raw) => (raw === target ? { ...raw, ...marshall({ gsi1pk: "app#own" }) } : raw));
  };
  return { c, counts };
}

// One seed in `npm test` (CI's 15 minutes); FERRY_TEST_KIND_SEEDS=1701,1702,1703 runs several side by side.
const SEEDS = (process.env.FERRY_TEST_KIND_SEEDS ?? "1701").split(",").map(Number);

describe("kind attributes: numeric simple key, a GSI fed in place", () => {
  it(`seeds ${SEEDS.join(", ")} side by side: random writes beside dual-write and a killed convert, faults, index answers, no write loop, exact rollback`, async () => {
    // Each seed on its own table, with its own ferry processes; the in-process commands take turns (any-table.ts ferry).
    const all = await Promise.all(SEEDS.map((seed) => runLifecycle(withFaultsAndCounts(seed).c, seed)));
    for (const [i, timings] of all.entries()) console.info(`kind attributes lifecycle (seed ${SEEDS[i]}): ${JSON.stringify(timings)}`);
    expect(all).toHaveLength(SEEDS.length);
  }, 420_000);
});
