import { DeleteCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { batchPutAll, loadMigration, seededRandom } from "@ferry/core";
import { type WorkflowItem, generateWorkflows } from "@ferry/example-workflows";
import { startConversion } from "@ferry/core/backfill/control";
import { verifyMigration } from "@ferry/core/verify/verify-migration";
import { describe, expect, it } from "vitest";
import { freshExampleTable, testClients } from "../support/dynamo.ts";
import { invariantDiff } from "../support/invariant.ts";
import { startLiveDualWrite } from "../support/live-dual-write.ts";

const migrations = { "0001": await loadMigration("0001"), "0002": await loadMigration("0002") };

/** Random inserts, updates (adding/removing contexts and tasks) and deletes until stopped. */
function randomWriter(clients: ReturnType<typeof testClients>, table: string, items: WorkflowItem[], seed: number) {
  const random = seededRandom(seed);
  const live = new Map(items.map((i) => [i.SK, i]));
  let stopped = false;
  let writes = 0;
  const fresh = [...generateWorkflows({ tenants: 1, workflows: 300, contexts: 2, pool: 30, tasks: 2, itemKb: 1, seed: seed + 1000 })];
  const run = (async () => {
    while (!stopped) {
      const keys = [...live.keys()];
      const pick = live.get(keys[Math.floor(random() * keys.length)]!)!;
      const roll = random();
      if (roll < 0.2 && fresh.length > 0) {
        const item = { ...fresh.pop()!, PK: pick.PK };
        await clients.doc.send(new PutCommand({ TableName: table, Item: item }));
        live.set(item.SK, item);
      } else if (roll < 0.35 && live.size > 100) {
        await clients.doc.send(new DeleteCommand({ TableName: table, Key: { PK: pick.PK, SK: pick.SK } }));
        live.delete(pick.SK);
      } else {
        const contexts = random() < 0.5 ? pick.contexts.slice(1) : [...pick.contexts, { id: `ctx-r${Math.floor(random() * 50)}`, name: "r" }];
        const tasks = random() < 0.5 ? pick.tasks.slice(1) : [...pick.tasks, { ...pick.tasks[0]!, id: `t-${writes}` }].filter(Boolean);
        const next = { ...pick, contexts: [...new Map(contexts.map((c) => [c.id, c])).values()], tasks: pick.tasks.length ? tasks : [] };
        await clients.doc.send(new PutCommand({ TableName: table, Item: next }));
        live.set(next.SK, next);
      }
      writes++;
      // ~50 writes/s: a busy application, not a flood that outruns the engine.
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await run;
      return writes;
    },
  };
}

async function converge(check: () => Promise<{ missing: string[]; orphans: string[]; different: string[] }>, timeoutMs = 60_000) {
  const until = Date.now() + timeoutMs;
  let diff = await check();
  while (Date.now() < until && diff.missing.length + diff.orphans.length + diff.different.length > 0) {
    await new Promise((r) => setTimeout(r, 500));
    diff = await check();
  }
  return diff;
}

describe("backfill beside live writes and the dual-write", () => {
  it.each([
    ["0001", 11],
    ["0002", 12],
    ["0001", 13],
  ] as const)(
    "converges exactly for %s with writer seed %i",
    async (id, seed) => {
      const migration = migrations[id];
      const clients = testClients();
      const table = await freshExampleTable(clients, "cc");
      const controlTable = `${table}.ferry`;
      const items = [...generateWorkflows({ tenants: 1, workflows: 200, contexts: 2, pool: 30, tasks: 2, itemKb: 1, seed })];
      await batchPutAll(clients.doc, table, items);
      // Dual-write first (step add), then the backfill while the application keeps writing.
      const dualWrite = await startLiveDualWrite(testClients(), table, controlTable, migration);
      const writer = randomWriter(testClients(), table, items, seed);
      // Widen the race window: every backfill write waits 1 s after its page was read, so
      // the writer and the dual-write regularly change items in between (what a slow or
      // throttled backfill meets in production). The page's plain writes are its
      // BatchExecuteStatement calls (backfill/writes.ts).
      const backfillClients = testClients();
      backfillClients.raw.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === "BatchExecuteStatementCommand") await new Promise((r) => setTimeout(r, 1_000));
          return next(args);
        },
        { step: "initialize", name: "slowBackfillWrites" },
      );
      const result = await startConversion(
        { clients: backfillClients, tableName: table, controlTable, migration },
        { segments: 3, pageSize: 20, rate: 1_000 },
        { owner: `test:${seed}` },
      );
      const writes = await writer.stop();
      expect(result.run.status).toBe("completed");
      expect(writes).toBeGreaterThan(50);
      // The race happened: some items changed between a page's read and its validation (and were repaired).
      expect(result.totals.repaired).toBeGreaterThan(0);
      const diff = await converge(() => invariantDiff(clients, table, migration));
      await dualWrite.stop();
      expect(await dualWrite.deadLetters()).toEqual([]);
      expect(diff).toMatchObject({ missing: [], orphans: [], different: [] });
      // And `ferry verify`'s own check agrees.
      const report = await verifyMigration(clients, table, migration, {});
      expect(report).toMatchObject({ clean: true, missing: 0, orphans: 0, different: 0 });
    },
    180_000,
  );
});
