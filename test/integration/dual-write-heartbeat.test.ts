// The dual-write heartbeat is written at most once per interval (dualwrite/dual-write.ts heartbeatDue):
// what the guards and the liveness probe read from it must still hold, on DynamoDB Local.
import { marshall } from "@aws-sdk/util-dynamodb";
import { type Migration, ensureControlTable, loadMigration } from "@ferry/core";
import { generateWorkflows } from "@ferry/example-workflows";
import { readHeartbeat, recordHeartbeatStop, stoppedSinceApplied } from "@ferry/core/dualwrite/heartbeat";
import { pingItem } from "@ferry/core/dualwrite/liveness-key";
import { createDualWriteHandler } from "@ferry/functions/dual-write";
import type { DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import { beforeAll, describe, expect, it } from "vitest";
import { freshPlainTable, testClients } from "../support/dynamo.ts";

process.env.POWERTOOLS_LOG_LEVEL ??= "SILENT";

type Item = Record<string, unknown>;
const INTERVAL_MS = 60_000;
const T0 = Date.parse("2026-12-01T12:00:00.000Z");
let migration: Migration;
beforeAll(async () => {
  migration = await loadMigration("0001");
});

let sequence = 2_000_000;
/** INSERT records of `items`, created `createdAtMs` (whole seconds, as AWS reports them). */
function inserts(items: Item[], createdAtMs: number): DynamoDBStreamEvent {
  const Records = items.map(
    (item): DynamoDBRecord => ({
      eventName: "INSERT",
      eventSource: "aws:dynamodb",
      dynamodb: {
        ApproximateCreationDateTime: Math.floor(createdAtMs / 1000),
        Keys: marshall({ PK: item.PK, SK: item.SK }) as never,
        NewImage: marshall(item, { removeUndefinedValues: true }) as never,
        SequenceNumber: String(sequence++),
        StreamViewType: "NEW_AND_OLD_IMAGES",
      },
    }),
  );
  return { Records };
}

async function setup() {
  const clients = testClients();
  const table = await freshPlainTable(clients, "dwh");
  const control = `${table}.ferry`;
  await ensureControlTable(clients.raw, control);
  const clock = { now: T0 };
  const handler = () =>
    createDualWriteHandler({ migration, doc: clients.doc, tableName: table, controlTable: control, now: () => clock.now, heartbeatIntervalMs: INTERVAL_MS });
  const beat = () => readHeartbeat(clients.doc, control, migration.id);
  return { clients, table, control, clock, handler, beat };
}

const workflows = (n: number, seed: number): Item[] =>
  [...generateWorkflows({ tenants: 1, workflows: n, contexts: 2, pool: 10, tasks: 1, itemKb: 1, seed })] as Item[];

describe("dual-write heartbeat interval", () => {
  it("writes at most one heartbeat per interval while it applies changes and carries what it skipped into the next one", async () => {
    const s = await setup();
    const handle = s.handler();
    const [a, b, c, d] = workflows(4, 21) as [Item, Item, Item, Item];

    await handle(inserts([a, b], T0));
    s.clock.now = T0 + 100;
    const skipped = inserts([c], T0 + 100);
    await handle(skipped);
    // Within the interval in both times: still the first batch's heartbeat.
    expect(await s.beat()).toMatchObject({ batches: 1, applied: 2, appliedAt: T0 });

    s.clock.now = T0 + INTERVAL_MS;
    const due = inserts([d], T0 + 200);
    await handle(due);

    // The skipped batch is counted in the next heartbeat; it names the newest record applied.
    expect(await s.beat()).toMatchObject({
      batches: 2,
      applied: 4,
      written: 8,
      appliedAt: T0 + INTERVAL_MS,
      sequenceNumber: due.Records[0]?.dynamodb?.SequenceNumber,
      lastBatch: { applied: 1 },
    });
  });

  it("writes at once for a liveness ping, and when the stream's time moved by the interval", async () => {
    const s = await setup();
    const handle = s.handler();
    const [a, b] = workflows(2, 22) as [Item, Item];
    await handle(inserts([a], T0));

    s.clock.now = T0 + 10;
    await handle(inserts([pingItem(migration, "nonce-1", T0)], T0));
    expect(await s.beat()).toMatchObject({ lastPing: "nonce-1", appliedAt: T0 + 10, batches: 2 });

    // A backlog: the wall clock hardly moved, but the records are a whole interval newer.
    s.clock.now = T0 + 20;
    await handle(inserts([b], T0 + INTERVAL_MS));
    expect(await s.beat()).toMatchObject({ batches: 3, newestCreatedAt: T0 + INTERVAL_MS });
  });

  it("reads as stopped after a clean stop even when the last batch skipped its heartbeat, and a restarted consumer clears that with its first batch", async () => {
    const s = await setup();
    const [a, b, c] = workflows(3, 23) as [Item, Item, Item];
    const first = s.handler();
    await first(inserts([a], T0));
    s.clock.now = T0 + 100;
    await first(inserts([b], T0 + 100));

    await recordHeartbeatStop(s.clients.doc, s.control, migration.id, { at: T0 + 200, by: "test" });
    const stopped = await s.beat();
    expect(stopped && stoppedSinceApplied(stopped)).toBe(true);

    s.clock.now = T0 + 300;
    await s.handler()(inserts([c], T0 + 300));
    const restarted = await s.beat();
    expect(restarted && stoppedSinceApplied(restarted)).toBe(false);
    expect(restarted).toMatchObject({ appliedAt: T0 + 300 });
  });
});
