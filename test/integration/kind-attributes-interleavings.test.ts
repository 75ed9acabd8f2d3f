// The attributes kind's backfill page beside the real dual-write, one forced interleaving at a
// time: the application changes the victim order right before the page's Scan, or between
// the Scan and the page's UpdateItem (a change of what derive reads, an ABA, a delete, a
// whole-item put that drops ferry's attributes). The dual-write runs behind the local event
// source mapping; the interleaving is forced at the backfill client's middleware, just before
// the call is sent. Each scenario ends with every item's owned attributes equal to the test's
// own derive of the current item, the counters saying which write landed and which the
// stream owned, and no write that landed with a stale value.
import { DeleteCommand, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { type DynamoClients, loadMigration } from "@ferry/core";
import { migrationOnTable } from "@ferry/core/definition/table-keys";
import { convertAttributesPage } from "@ferry/core/kinds/attributes/page";
import { startLocalDualWrite } from "@ferry/core/local/dual-write";
import { createDualWriteHandler } from "@ferry/functions/dual-write";
import type { DynamoDBStreamEvent } from "aws-lambda";
import { describe, expect, it, onTestFinished } from "vitest";
import { createAnyTable, putAll } from "../support/any-table.ts";
import { testClients } from "../support/dynamo.ts";
import { KIND_ATTRIBUTES_MIGRATIONS, attributesInvariant, expectedOwned } from "../support/kind-attributes.ts";

const loaded = await loadMigration("0001", KIND_ATTRIBUTES_MIGRATIONS);
type Item = Record<string, unknown>;
const victim = { id: 3, type: "order", tenant: "t1", status: "open", placedAt: 100, note: "v" };
const seed: Item[] = [
  { id: 1, type: "order", tenant: "t2", status: "paid", placedAt: 1 },
  { id: 2, type: "customer", name: "c" },
  victim,
  { id: 4, type: "order", tenant: "t1", status: "draft", placedAt: 4 },
];

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Runs `hook` once, right before the client sends its first Scan, or its UpdateItem of the victim. */
function before(clients: DynamoClients, cue: "Scan" | "Update", hook: () => Promise<void>) {
  let done = false;
  clients.raw.middlewareStack.add(
    (next, context) => async (args) => {
      const key = (args.input as { Key?: { id?: unknown } }).Key?.id;
      const isVictim = key === victim.id || (key as { N?: string } | undefined)?.N === String(victim.id);
      const hit = cue === "Scan" ? /^Scan/.test(context.commandName ?? "") : /^Update/.test(context.commandName ?? "") && isVictim;
      if (hit && !done) {
        done = true;
        await hook();
      }
      return next(args);
    },
    { step: "initialize", priority: "high", name: "ferryTestInterleave" },
  );
}

type App = { put(item: Item): Promise<void>; remove(): Promise<void>; applied(): Promise<void> };
type Scenario = [name: string, cue: "Scan" | "Update", act: (app: App) => Promise<void>, page: { written: number; deferred: number }];

const SCENARIOS: Scenario[] = [
  // The dual-write set the new values before the page read them: the page skips the victim (a resume costs reads, not writes).
  [
    "a change the dual-write applied before the page's read",
    "Scan",
    async (app) => {
      await app.put({ ...victim, status: "paid" });
      await app.applied();
    },
    { written: 1, deferred: 0 },
  ],
  [
    "a change of what derive reads between the page's read and its write: the stream owns it",
    "Update",
    (app) => app.put({ ...victim, status: "paid" }),
    { written: 1, deferred: 1 },
  ],
  [
    "ABA between the read and the write: the fields are as read, the write lands and is right",
    "Update",
    async (app) => {
      await app.put({ ...victim, status: "paid" });
      await app.put(victim);
    },
    { written: 2, deferred: 0 },
  ],
  ["a delete between the read and the write: the item does not come back", "Update", (app) => app.remove(), { written: 1, deferred: 1 }],
  [
    "a whole-item put between the read and the write, derive's fields unchanged: the write lands",
    "Update",
    (app) => app.put({ ...victim, note: "w" }),
    { written: 2, deferred: 0 },
  ],
];

describe("kind attributes: backfill page interleavings beside the dual-write", () => {
  it.each(SCENARIOS)(
    "%s",
    async (_name, cue, act, page) => {
      // Arrange: the seed written before the dual-write starts (as on a live table: the backfill has to set its attributes).
      const clients = testClients();
      const { table, controlTable } = await createAnyTable(clients, "kattri", { partitionKey: { name: "id", type: "N" } }, true, [
        { name: "byStatus", keys: { partitionKey: { name: "gsi1pk", type: "S" }, sortKey: { name: "gsi1sk", type: "N" } } },
      ]);
      const migration = await migrationOnTable(clients.doc, loaded, table);
      await putAll(clients, table, seed);
      const handler = createDualWriteHandler({ migration, doc: clients.doc, tableName: table, controlTable });
      let applied = 0;
      let live = false;
      const dualWrite = await startLocalDualWrite({
        clients: testClients(),
        tableName: table,
        controlTable,
        migration,
        pollIntervalMs: 20,
        // As if started after the seed was written: records before the sentinel change are not the dual-write's.
        handler: async (event: DynamoDBStreamEvent, context) => {
          const at = live ? -1 : event.Records.findIndex((r) => r.dynamodb?.NewImage?.name?.S === "c2");
          if (!live && at < 0) return { batchItemFailures: [] };
          live = true;
          const records = event.Records.slice(at + 1);
          applied += records.length + 1;
          const out = records.length ? await handler({ Records: records }, context) : { batchItemFailures: [] };
          return out;
        },
      });
      onTestFinished(() => dualWrite.stop());
      // A change of a customer: once the dual-write has seen it, it reads the stream from here on.
      await clients.doc.send(new PutCommand({ TableName: table, Item: { id: 2, type: "customer", name: "c2" } }));
      await until(async () => applied > 0, "the dual-write to start reading");
      expect((await attributesInvariant(clients, table)).missing.length).toBe(4); // two orders, two attributes each
      const victimRight = async () => {
        const r = await attributesInvariant(clients, table);
        return ![...r.missing, ...r.stale].some((k) => k.startsWith(`[${victim.id}]`));
      };
      let last: Item | undefined = victim;
      const app: App = {
        put: async (item) => {
          await clients.doc.send(new PutCommand({ TableName: table, Item: item }));
          last = item;
        },
        remove: async () => {
          await clients.doc.send(new DeleteCommand({ TableName: table, Key: { id: victim.id } }));
          last = undefined;
        },
        applied: () => until(victimRight, "the dual-write to set the victim's attributes"),
      };

      // Act: one page, the application's change forced in at the cue.
      const backfill = testClients();
      before(backfill, cue, () => act(app));
      const result = await convertAttributesPage(backfill.doc, table, migration, { segment: 0, totalSegments: 1, pageSize: 100 });

      // Assert: what the page wrote and what it left to the stream; then the stream drains to derive(current item) everywhere.
      expect({ written: result.counters.recordsWritten, deferred: result.counters.deferred }).toEqual(page);
      expect(result.failures).toEqual([]);
      await until(async () => {
        const r = await attributesInvariant(clients, table);
        return r.missing.length + r.stale.length + r.orphans.length === 0;
      }, "every item to hold derive(current item)");
      // The victim is exactly what the application last wrote plus derive of it (or gone): nothing stale, nothing brought back.
      const stored = await clients.doc.send(new GetCommand({ TableName: table, Key: { id: victim.id }, ConsistentRead: true }));
      expect(stored.Item).toEqual(last ? { ...last, ...expectedOwned(last) } : undefined);
    },
    60_000,
  );
});
