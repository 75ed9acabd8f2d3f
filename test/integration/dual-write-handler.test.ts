// The dual-write Lambda handler against DynamoDB Local: stream events in AWS's shape
// (test/fixtures/stream-events) go through the real handler; the table must converge.
import { WORKFLOWS_TABLE } from "@ferry/example-workflows";
import { readFileSync } from "node:fs";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import {
  type DualWriteDeps,
  type DynamoClients,
  type Migration,
  OWNER_ATTRIBUTE,
  deriveRecords,
  ensureControlTable,
  isSourceKey,
  keyId,
  loadMigration,
  ownerOf,
} from "@ferry/core";
import { fromLambdaImage } from "@ferry/core/dualwrite/plan";
import { readFailure } from "@ferry/core/dualwrite/failures";
import { dualWriteLag, readHeartbeat } from "@ferry/core/dualwrite/heartbeat";
import { createDualWriteHandler } from "@ferry/functions/dual-write";
import type { DynamoDBStreamEvent } from "aws-lambda";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { endpoint, freshPlainTable, scanAll, testClients } from "../support/dynamo.ts";
import { injectFaults } from "../support/faults.ts";

process.env.POWERTOOLS_LOG_LEVEL ??= "SILENT";

const CONTEXTS = "0001_workflow-context-index";
const TASKS = "0002_split-workflow-tasks";
const migrations = new Map<string, Migration>();
const NOW = Date.parse("2026-11-23T05:00:00.000Z");

beforeAll(async () => {
  for (const id of [CONTEXTS, TASKS]) migrations.set(id, await loadMigration(id));
});

function fixture(name: string): DynamoDBStreamEvent {
  return JSON.parse(readFileSync(new URL(`../fixtures/stream-events/${name}.json`, import.meta.url), "utf8")) as DynamoDBStreamEvent;
}

/** The same event from the record with `sequenceNumber` on, as Lambda retries after a reported failure. */
function from(event: DynamoDBStreamEvent, sequenceNumber: string): DynamoDBStreamEvent {
  const start = event.Records.findIndex((r) => r.dynamodb?.SequenceNumber === sequenceNumber);
  return { Records: event.Records.slice(start) };
}

const seqs = (event: DynamoDBStreamEvent) => event.Records.map((r) => r.dynamodb?.SequenceNumber);
const failures = (seq: (string | undefined)[]) => ({ batchItemFailures: seq.map((itemIdentifier) => ({ itemIdentifier })) });
const NO_FAILURES = { batchItemFailures: [] };

/** Makes the source items look the way the event leaves them (the writes the stream reports). */
async function applySourceChanges(clients: DynamoClients, table: string, event: DynamoDBStreamEvent): Promise<void> {
  for (const record of event.Records) {
    const { NewImage, Keys } = record.dynamodb ?? {};
    if (NewImage) await clients.doc.send(new PutCommand({ TableName: table, Item: fromLambdaImage(NewImage) }));
    else if (Keys) await clients.doc.send(new DeleteCommand({ TableName: table, Key: fromLambdaImage(Keys) }));
  }
}

/** The invariant: the records stamped with the migration are exactly the union of derive over the source items. */
async function expectConverged(clients: DynamoClients, table: string, migration: Migration, poisonSks: string[] = []): Promise<string[]> {
  const items = await scanAll(clients, table);
  const expected = new Map<string, Record<string, unknown>>();
  for (const item of items) {
    if (!isSourceKey(migration, item) || OWNER_ATTRIBUTE in item || poisonSks.includes(String(item.SK))) continue;
    for (const record of deriveRecords(migration, item)) expected.set(keyId(WORKFLOWS_TABLE, record), record);
  }
  const byKey = (a: Record<string, unknown>, b: Record<string, unknown>) => (keyId(WORKFLOWS_TABLE, a) < keyId(WORKFLOWS_TABLE, b) ? -1 : 1);
  const actual = items.filter((item) => ownerOf(item, migration.id)).sort(byKey);
  expect(actual).toEqual([...expected.values()].sort(byKey));
  return actual.map((r) => String(r.SK));
}

/** Counts writes that reach the data table (calls and put/delete requests). */
function countDataWrites(client: DynamoDBClient, table: string) {
  const counts = { calls: 0, requests: 0 };
  client.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as { TableName?: string; RequestItems?: Record<string, unknown[]> };
      const batch = input.RequestItems?.[table];
      if (batch || input.TableName === table) {
        counts.calls++;
        counts.requests += batch ? batch.length : 1;
      }
      return next(args);
    },
    { step: "initialize", name: "countDataWrites" },
  );
  return counts;
}

interface Setup {
  clients: DynamoClients;
  table: string;
  control: string;
  handler: ReturnType<typeof createDualWriteHandler>;
}

async function setup(migrationId: string, clients: DynamoClients = testClients(), deps: Partial<DualWriteDeps> = {}): Promise<Setup> {
  const table = await freshPlainTable(clients, "dw");
  const control = `${table}.ferry`;
  await ensureControlTable(clients.raw, control);
  const migration = migrations.get(migrationId) as Migration;
  const handler = createDualWriteHandler({ migration, doc: clients.doc, tableName: table, controlTable: control, now: () => NOW, ...deps });
  return { clients, table, control, handler };
}

/** The derived sort keys each step leaves, per migration (written out so a broken derive cannot agree with itself). */
const EXPECTED_SKS: Record<string, Record<string, string[]>> = {
  [CONTEXTS]: {
    "01-insert": ["CTX#c-1#WF#wf-A", "CTX#c-2#WF#wf-A", "CTX#c-2#WF#wf-B"],
    "02-modify": ["CTX#c-2#WF#wf-A", "CTX#c-2#WF#wf-B", "CTX#c-3#WF#wf-A"],
    "03-remove": ["CTX#c-1#WF#wf-C", "CTX#c-3#WF#wf-A"],
    "04-ignored-only": ["CTX#c-1#WF#wf-C", "CTX#c-3#WF#wf-A"],
  },
  [TASKS]: {
    "01-insert": ["WF#wf-A#TASK#t-1", "WF#wf-A#TASK#t-2", "WF#wf-B#TASK#t-3"],
    "02-modify": ["WF#wf-A#TASK#t-2", "WF#wf-A#TASK#t-4", "WF#wf-B#TASK#t-3"],
    "03-remove": ["WF#wf-A#TASK#t-4"],
    "04-ignored-only": ["WF#wf-A#TASK#t-4"],
  },
};

describe.each([CONTEXTS, TASKS])("dual-write handler, migration %s", (migrationId) => {
  let s: Setup;
  beforeEach(async () => {
    s = await setup(migrationId);
  });

  it("converges after inserts, updates, deletes and non-source records, and again when each batch is delivered twice", async () => {
    const migration = migrations.get(migrationId) as Migration;
    for (const step of ["01-insert", "02-modify", "03-remove", "04-ignored-only"]) {
      const event = fixture(step);
      await applySourceChanges(s.clients, s.table, event);

      expect(await s.handler(event), step).toEqual(NO_FAILURES);
      expect(await expectConverged(s.clients, s.table, migration), step).toEqual(EXPECTED_SKS[migrationId]?.[step]);
      const once = await scanAll(s.clients, s.table);

      expect(await s.handler(event), `${step} replayed`).toEqual(NO_FAILURES);
      await expectConverged(s.clients, s.table, migration);
      expect(await scanAll(s.clients, s.table), `${step} replayed`).toEqual(expect.arrayContaining(once));
      expect((await scanAll(s.clients, s.table)).length).toBe(once.length);
    }
  });

  it("stops at a poison record, records why, and applies the rest once the record is dead-lettered", async () => {
    const migration = migrations.get(migrationId) as Migration;
    const event = fixture("05-poison");
    const [first, poison, ...later] = seqs(event);
    await applySourceChanges(s.clients, s.table, event);

    // The poison record and everything after it are reported; only the record before it is applied.
    expect(await s.handler(event)).toEqual(failures([poison, ...later]));
    const applied = (await scanAll(s.clients, s.table)).filter((i) => ownerOf(i, migration.id)).map((i) => i.SK);
    expect(applied).toEqual(migrationId === CONTEXTS ? ["CTX#c-1#WF#wf-D"] : ["WF#wf-D#TASK#t-5"]);
    const location = { doc: s.clients.doc, controlTable: s.control, migrationId };
    expect(await readFailure(location, poison as string)).toMatchObject({
      kind: "poison",
      errorName: "SourceSchemaError",
      reason: expect.stringContaining('SK="WF#wf-E"'),
      sourceKey: { PK: "tenant-0001", SK: "WF#wf-E" },
      eventName: "INSERT",
      sequenceNumber: poison,
      attempts: 1,
      firstAt: NOW,
      lastAt: NOW,
    });
    expect(await readFailure(location, first as string)).toBeUndefined();
    expect(await readFailure(location, later[0] as string)).toBeUndefined();

    // Lambda retries from the reported record: it fails again and is counted again.
    expect(await s.handler(from(event, poison as string))).toEqual(failures([poison, ...later]));
    expect(await readFailure(location, poison as string)).toMatchObject({ attempts: 2, kind: "poison" });

    // Dead-lettered (dropped by the mapping): the batch resumes after it and the rest applies.
    expect(await s.handler(from(event, later[0] as string))).toEqual(NO_FAILURES);
    await expectConverged(s.clients, s.table, migration, ["WF#wf-E"]);

    // Fixing the item: its old image is invalid (owned nothing), its new one applies.
    const fix = fixture("06-fix-invalid-old");
    await applySourceChanges(s.clients, s.table, fix);
    expect(await s.handler(fix)).toEqual(NO_FAILURES);
    const sks = await expectConverged(s.clients, s.table, migration);
    expect(sks).toContain(migrationId === CONTEXTS ? "CTX#c-5#WF#wf-E" : "WF#wf-E#TASK#t-7");
  });

  it("writes nothing for a change of fields the migration does not read", async () => {
    const migration = migrations.get(migrationId) as Migration;
    await applySourceChanges(s.clients, s.table, fixture("01-insert"));
    await s.handler(fixture("01-insert"));
    const event = fixture("07-modify-non-schema");
    await applySourceChanges(s.clients, s.table, event);
    const counts = countDataWrites(s.clients.raw, s.table);

    expect(await s.handler(event)).toEqual(NO_FAILURES);

    expect(counts).toEqual({ calls: 0, requests: 0 });
    await expectConverged(s.clients, s.table, migration);
    expect(await readHeartbeat(s.clients.doc, s.control, migrationId)).toMatchObject({ unchanged: 1, applied: 2, lastBatch: { unchanged: 1, applied: 0 } });
  });
});

describe("dual-write handler: skipping unchanged items safely", () => {
  it("still writes when a field the schema reads changes even though derive gives the same records", async () => {
    const s = await setup(CONTEXTS);
    await applySourceChanges(s.clients, s.table, fixture("01-insert"));
    await s.handler(fixture("01-insert"));
    const event = fixture("08-reorder-contexts");
    await applySourceChanges(s.clients, s.table, event);
    const counts = countDataWrites(s.clients.raw, s.table);

    expect(await s.handler(event)).toEqual(NO_FAILURES);

    // The same two context records, written again (one conditional write each): the backfill may have left this item to the stream.
    expect(counts).toEqual({ calls: 2, requests: 2 });
    await expectConverged(s.clients, s.table, migrations.get(CONTEXTS) as Migration);
  });

  it("writes nothing when the reordered field is one the migration does not read (0002 ignores contexts)", async () => {
    const s = await setup(TASKS);
    await applySourceChanges(s.clients, s.table, fixture("01-insert"));
    await s.handler(fixture("01-insert"));
    const counts = countDataWrites(s.clients.raw, s.table);

    expect(await s.handler(fixture("08-reorder-contexts"))).toEqual(NO_FAILURES);

    expect(counts).toEqual({ calls: 0, requests: 0 });
  });
});

describe("dual-write handler: heartbeat", () => {
  it("records the newest creation time applied, and nothing for a batch of only ignored records", async () => {
    const s = await setup(CONTEXTS);
    await s.handler(fixture("04-ignored-only"));
    expect(await readHeartbeat(s.clients.doc, s.control, CONTEXTS)).toBeUndefined();

    const event = fixture("01-insert");
    await s.handler(event);

    const heartbeat = await readHeartbeat(s.clients.doc, s.control, CONTEXTS);
    // Records 1 and 2 are workflows (created at +0 s and +1 s); record 3, the newest, is ignored.
    const newestApplied = (event.Records[1]?.dynamodb?.ApproximateCreationDateTime ?? 0) * 1000;
    expect(heartbeat).toMatchObject({
      migrationId: CONTEXTS,
      consumer: "dual-write",
      newestCreatedAt: newestApplied,
      appliedAt: NOW,
      sequenceNumber: event.Records[1]?.dynamodb?.SequenceNumber,
      lagMs: NOW - newestApplied,
      batches: 1,
      // The 3 ignored records of the first batch are carried into this first heartbeat.
      applied: 2,
      ignored: 4,
      failed: 0,
      written: 3,
      deleted: 0,
      lastBatch: { applied: 2, ignored: 1, unchanged: 0, failed: 0, written: 3, deleted: 0 },
    });
    expect(dualWriteLag(heartbeat as NonNullable<typeof heartbeat>, NOW + 5_000)).toEqual({ lagMs: NOW - newestApplied, sinceAppliedMs: 5_000 });
  });
});

describe("dual-write handler: transient failures", () => {
  it("sends a write throttled past the SDK's retries again, and applies the batch", async () => {
    const faulty = testClients();
    // The first two calls throttled, then every other one: each write gets through on a later try.
    const counters = injectFaults(faulty.raw, {
      throttleFirst: 2,
      throttleRate: 0.5,
      throttleOperations: ["PutItem", "DeleteItem", "BatchExecuteStatement"],
      seed: 3,
    });
    const s = await setup(TASKS, faulty);
    const event = fixture("01-insert");
    await applySourceChanges(testClients(), s.table, event);

    expect(await s.handler(event)).toEqual(NO_FAILURES);
    expect(counters.throttled).toBeGreaterThan(0);
    expect(await readFailure({ doc: s.clients.doc, controlTable: s.control, migrationId: TASKS }, seqs(event)[0] as string)).toBeUndefined();
    await expectConverged(s.clients, s.table, migrations.get(TASKS) as Migration);
  });

  it("reports a write still throttled after its retries as a batch item failure, records it as transient, and applies on the retry", async () => {
    const faulty = testClients();
    const counters = injectFaults(faulty.raw, { throttleRate: 1, throttleOperations: ["PutItem", "DeleteItem", "BatchExecuteStatement"] });
    const s = await setup(TASKS, faulty, { writeBackoff: { baseMs: 1, maxMs: 2, maxAttempts: 3 } });
    const event = fixture("01-insert");
    // The source items are the application's writes, through a healthy client; only the dual-write's are throttled.
    await applySourceChanges(testClients(), s.table, event);

    expect(await s.handler(event)).toEqual(failures(seqs(event)));
    // Three tries of each call of the first record's window (its fresh records' INSERT batch, its other writes).
    expect(counters.throttled % 3).toBe(0);

    const location = { doc: s.clients.doc, controlTable: s.control, migrationId: TASKS };
    expect(await readFailure(location, seqs(event)[0] as string)).toMatchObject({
      kind: "transient",
      errorName: "ProvisionedThroughputExceededException",
      attempts: 1,
    });
    expect(await readHeartbeat(s.clients.doc, s.control, TASKS)).toBeUndefined();

    const healthy = testClients();
    const retry = createDualWriteHandler({ migration: migrations.get(TASKS) as Migration, doc: healthy.doc, tableName: s.table, controlTable: s.control });
    expect(await retry(event)).toEqual(NO_FAILURES);
    await expectConverged(healthy, s.table, migrations.get(TASKS) as Migration);
  });
});

describe("dual-write Lambda entry point", () => {
  it("builds its dependencies from FERRY_MIGRATION, FERRY_TABLE, FERRY_CONTROL_TABLE and the endpoint variables", async () => {
    const clients = testClients();
    const table = await freshPlainTable(clients, "dw");
    const control = `${table}.control`;
    await ensureControlTable(clients.raw, control);
    Object.assign(process.env, { FERRY_MIGRATION: "0001", FERRY_TABLE: table, FERRY_CONTROL_TABLE: control, AWS_ENDPOINT_URL_DYNAMODB: endpoint() });
    const { handler } = await import("@ferry/functions/dual-write");
    const event = fixture("01-insert");
    await applySourceChanges(clients, table, event);

    expect(await handler(event)).toEqual(NO_FAILURES);

    expect(await expectConverged(clients, table, migrations.get(CONTEXTS) as Migration)).toEqual(EXPECTED_SKS[CONTEXTS]?.["01-insert"]);
    expect(await readHeartbeat(clients.doc, control, CONTEXTS)).toMatchObject({ applied: 2 });
  });
});
