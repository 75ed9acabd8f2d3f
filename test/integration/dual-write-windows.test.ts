// The dual-write writes a batch's records in windows of key-disjoint changes (dualwrite/applier.ts).
// These scenarios check the three things windows must never break, on DynamoDB Local: a
// window's writes in flight together (not one record after the other; fresh records as INSERT
// batches, owner-safe all the same), stream
// order for changes of the same record, and "the first failing record and everything after
// it are reported, everything before it is applied".
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ProvisionedThroughputExceededException } from "@aws-sdk/client-dynamodb";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { type DynamoClients, type Migration, deriveRecords, ensureControlTable, keyId, loadMigration, ownerOf } from "@ferry/core";
import { generateWorkflows, WORKFLOWS_TABLE } from "@ferry/example-workflows";
import { readFailure } from "@ferry/core/dualwrite/failures";
import { readHeartbeat } from "@ferry/core/dualwrite/heartbeat";
import { createDualWriteHandler } from "@ferry/functions/dual-write";
import type { BackoffOptions } from "@ferry/core/util/backoff";
import type { DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import { beforeAll, describe, expect, it } from "vitest";
import { freshPlainTable, scanAll, testClients } from "../support/dynamo.ts";

process.env.POWERTOOLS_LOG_LEVEL ??= "SILENT";

type Item = Record<string, unknown>;
let migration: Migration;
beforeAll(async () => {
  migration = await loadMigration("0001");
});

/** Stream records in AWS's shape, numbered in order. */
function streamOf(changes: { before?: Item; after?: Item }[]): DynamoDBStreamEvent {
  const Records = changes.map(({ before, after }, i): DynamoDBRecord => {
    const image = (after ?? before) as Item;
    const eventName = !before ? "INSERT" : !after ? "REMOVE" : "MODIFY";
    return {
      eventID: `e-${i}`,
      eventName,
      eventSource: "aws:dynamodb",
      awsRegion: "us-east-1",
      dynamodb: {
        ApproximateCreationDateTime: 1_795_409_040 + i,
        Keys: marshall({ PK: image.PK, SK: image.SK }) as never,
        ...(after ? { NewImage: marshall(after, { removeUndefinedValues: true }) as never } : {}),
        ...(before ? { OldImage: marshall(before, { removeUndefinedValues: true }) as never } : {}),
        SequenceNumber: String(1_000_000 + i),
        StreamViewType: "NEW_AND_OLD_IMAGES",
      },
    };
  });
  return { Records };
}

/**
 * Counts the writes to the data table: conditional PutItem/DeleteItem calls, INSERT batches
 * (BatchExecuteStatement) and their statements, and how many calls were in flight at once;
 * `failWhen` makes a call writing that sort key throw (throttling, as AWS would).
 */
function watchWrites(client: DynamoDBClient, table: string, failWhen?: (sk: string) => boolean) {
  const counts = { calls: 0, conditional: 0, insertBatches: 0, inserts: 0, maxInFlight: 0 };
  let inFlight = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as {
        TableName?: string;
        Item?: Item;
        Key?: Item;
        ConditionExpression?: string;
        Statements?: { Statement: string; Parameters?: unknown[] }[];
      };
      const single = (context.commandName === "PutItemCommand" || context.commandName === "DeleteItemCommand") && input.TableName === table;
      const batch = context.commandName === "BatchExecuteStatementCommand" && input.Statements?.some((st) => st.Statement.includes(`"${table}"`));
      if (single || batch) {
        counts.calls++;
        if (input.ConditionExpression) counts.conditional++;
        if (batch) {
          counts.insertBatches++;
          counts.inserts += input.Statements?.length ?? 0;
        }
        const sks = single ? [String((input.Item ?? input.Key)?.SK)] : (input.Statements ?? []).flatMap((st) => (st.Parameters ?? []).map(String));
        if (failWhen && sks.some(failWhen)) throw new ProvisionedThroughputExceededException({ message: "injected throttling", $metadata: {} });
        inFlight++;
        counts.maxInFlight = Math.max(counts.maxInFlight, inFlight);
        try {
          return await next(args);
        } finally {
          inFlight--;
        }
      }
      return next(args);
    },
    { step: "initialize", name: "watchWrites" },
  );
  return counts;
}

/** The migration's records in the table, as sorted key ids. */
async function derivedKeys(clients: DynamoClients, table: string): Promise<string[]> {
  return (await scanAll(clients, table))
    .filter((i) => ownerOf(i, migration.id))
    .map((i) => keyId(WORKFLOWS_TABLE, i))
    .sort();
}

const expectedKeys = (items: Item[]) =>
  items
    .flatMap((i) => deriveRecords(migration, i as never))
    .map((r) => keyId(WORKFLOWS_TABLE, r))
    .sort();

async function setup(clients: DynamoClients = testClients(), writeBackoff?: BackoffOptions, writeConcurrency?: number) {
  const table = await freshPlainTable(clients, "dww");
  const control = `${table}.ferry`;
  await ensureControlTable(clients.raw, control);
  return {
    clients,
    table,
    control,
    handler: createDualWriteHandler({
      migration,
      doc: clients.doc,
      tableName: table,
      controlTable: control,
      ...(writeBackoff ? { writeBackoff } : {}),
      ...(writeConcurrency ? { writeConcurrency } : {}),
    }),
  };
}

const workflows = (n: number, seed = 3): Item[] =>
  [...generateWorkflows({ tenants: 1, workflows: n, contexts: 2, pool: 40, tasks: 1, itemKb: 1, seed })] as Item[];

describe("dual-write windows", () => {
  it("writes a batch of 100 inserts of different workflows as INSERT batches in flight together, no request per record", async () => {
    const s = await setup();
    const items = workflows(100);
    const counts = watchWrites(s.clients.raw, s.table);

    expect(await s.handler(streamOf(items.map((after) => ({ after }))))).toEqual({ batchItemFailures: [] });

    expect(await derivedKeys(s.clients, s.table)).toEqual(expectedKeys(items));
    // 200 fresh context records: PartiQL INSERTs (a write that fails on a taken key) 25 per call, several calls at once.
    expect(counts).toMatchObject({ calls: 8, conditional: 0, insertBatches: 8, inserts: 200 });
    expect(counts.maxInFlight).toBeGreaterThan(1);
    expect(await readHeartbeat(s.clients.doc, s.control, migration.id)).toMatchObject({ applied: 100, written: 200, sequenceNumber: "1000099" });
  });

  it("keeps stream order for changes of the same record within one batch", async () => {
    const s = await setup();
    const [a, b] = workflows(2, 11) as [Item, Item];
    const contexts = (item: Item, ids: string[]) => ({ ...item, contexts: ids.map((id) => ({ id, name: `Context ${id}` })) });
    // a gains and loses the same context record back and forth, b is removed and inserted again.
    const a1 = contexts(a, ["k-1", "k-2"]);
    const a2 = contexts(a, ["k-2"]);
    const a3 = contexts(a, ["k-1", "k-2"]);
    const a4 = contexts(a, ["k-3"]);
    const b1 = contexts(b, ["k-1"]);
    const event = streamOf([
      { after: a1 },
      { after: b1 },
      { before: a1, after: a2 },
      { before: b1 },
      { before: a2, after: a3 },
      { after: b1 },
      { before: a3, after: a4 },
    ]);
    const counts = watchWrites(s.clients.raw, s.table);

    expect(await s.handler(event)).toEqual({ batchItemFailures: [] });

    // Last writer wins per key: a ends with k-3 only, b with k-1.
    expect(await derivedKeys(s.clients, s.table)).toEqual(expectedKeys([a4, b1]));
    // Windows split only where a key repeats: writes of one window go out together.
    expect(counts.maxInFlight).toBeGreaterThan(1);
  });

  it("reports the first record of a failed call and every record after it, and applies everything before it", async () => {
    const s = await setup(testClients(), { baseMs: 1, maxMs: 5, maxAttempts: 3 });
    const items = workflows(60, 5);
    const event = streamOf(items.map((after) => ({ after })));
    const seqs = event.Records.map((r) => r.dynamodb?.SequenceNumber as string);
    // The write of record 25's first record is throttled every time.
    const firstOfThirdCall = deriveRecords(migration, items[25] as never)[0]?.SK as string;
    const counts = watchWrites(s.clients.raw, s.table, (sk) => sk === firstOfThirdCall);

    const response = await s.handler(event);

    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(seqs.slice(25));
    const applied = await derivedKeys(s.clients, s.table);
    expect(applied).toEqual(expect.arrayContaining(expectedKeys(items.slice(0, 25))));
    const location = { doc: s.clients.doc, controlTable: s.control, migrationId: migration.id };
    expect(await readFailure(location, seqs[25] as string)).toMatchObject({ kind: "transient", errorName: "ProvisionedThroughputExceededException" });
    expect(await readFailure(location, seqs[26] as string)).toBeUndefined();
    expect(await readHeartbeat(s.clients.doc, s.control, migration.id)).toMatchObject({ applied: 25, sequenceNumber: seqs[24] });
    // Records 0-24's INSERT batches went out; the one holding record 25's was tried 3 times.
    expect(counts.insertBatches).toBeGreaterThanOrEqual(2 + 3);

    // Lambda retries from the reported record once the table accepts writes: everything converges.
    const healthy = createDualWriteHandler({ migration, doc: testClients().doc, tableName: s.table, controlTable: s.control });
    expect(await healthy({ Records: event.Records.slice(25) })).toEqual({ batchItemFailures: [] });
    expect(await derivedKeys(s.clients, s.table)).toEqual(expectedKeys(items));
  });

  it("an INSERT batch never lands on a taken key: this migration's record of the owner is overwritten, the application's item refuses the record", async () => {
    const s = await setup();
    const [a, b, c] = workflows(3, 13) as [Item, Item, Item];
    const [aFirst] = deriveRecords(migration, a as never) as Item[];
    const [bFirst] = deriveRecords(migration, b as never) as Item[];
    // a's first record is already there as an older copy (the backfill wrote it); b's key holds the application's own item.
    await s.clients.doc.send(new PutCommand({ TableName: s.table, Item: { ...aFirst, stale: true } }));
    const foreign = { PK: bFirst?.PK, SK: bFirst?.SK, note: "the application's" };
    await s.clients.doc.send(new PutCommand({ TableName: s.table, Item: foreign }));
    const event = streamOf([{ after: a }, { after: b }, { after: c }]);
    const counts = watchWrites(s.clients.raw, s.table);

    const response = await s.handler(event);

    // b fails as poison (its record is someone else's), and c after it is reported too; a is applied, its copy replaced.
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(event.Records.slice(1).map((r) => r.dynamodb?.SequenceNumber));
    const location = { doc: s.clients.doc, controlTable: s.control, migrationId: migration.id };
    expect(await readFailure(location, event.Records[1]?.dynamodb?.SequenceNumber as string)).toMatchObject({
      kind: "poison",
      errorName: "RecordOwnedElsewhereError",
    });
    const items = await scanAll(s.clients, s.table);
    expect(items.find((i) => i.PK === aFirst?.PK && i.SK === aFirst?.SK)).toEqual(aFirst);
    expect(items.find((i) => i.PK === foreign.PK && i.SK === foreign.SK)).toEqual(foreign);
    // The two taken keys failed their INSERT and were tried once more, owner-conditionally.
    expect(counts).toMatchObject({ insertBatches: 1, conditional: 2 });
  });

  it("a later record's failed INSERT batch still lets an earlier record's delete and conditional put be written", async () => {
    // One call in flight: the INSERT batch (sent first) has failed before the earlier record's writes are launched.
    const s = await setup(testClients(), { baseMs: 1, maxMs: 5, maxAttempts: 3 }, 1);
    const [a, ...rest] = workflows(4, 17) as [Item, ...Item[]];
    const contexts = (item: Item, ids: string[]) => ({ ...item, contexts: ids.map((id) => ({ id, name: `Context ${id}` })) });
    const a1 = contexts(a, ["k-1", "k-2"]);
    const a2 = contexts(a, ["k-2"]);
    expect(await s.handler(streamOf([{ after: a1 }]))).toEqual({ batchItemFailures: [] });
    const throttled = deriveRecords(migration, rest[0] as never)[0]?.SK as string;
    watchWrites(s.clients.raw, s.table, (sk) => sk === throttled);
    const event = streamOf([{ before: a1, after: a2 }, ...rest.map((after) => ({ after }))]);

    const response = await s.handler(event);

    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(event.Records.slice(1).map((r) => r.dynamodb?.SequenceNumber));
    // a's change is applied whole: k-1's record deleted, k-2's kept.
    expect((await derivedKeys(s.clients, s.table)).filter((k) => k.includes(String(a.SK).slice(3)))).toEqual(expectedKeys([a2]));
  });
});
