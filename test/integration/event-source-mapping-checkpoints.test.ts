// The local mapping writes a shard's checkpoint off the delivery path, at most once per interval, and the newest one on stop.
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { DEFAULT_MIGRATION_OPTIONS, describeTable, ensureControlTable } from "@ferry/core";
import { startEventSourceMapping } from "@ferry/core/local/event-source-mapping";
import { type CheckpointStore, type ShardCheckpoint, controlTableCheckpoints } from "@ferry/core/local/stream-checkpoints";
import { controlTableDeadLetters } from "@ferry/core/local/stream-dead-letters";
import type { StreamHandler } from "@ferry/core/streams/lambda-event";
import { createStreamsClient } from "@ferry/core/streams/shards";
import { streamSettings } from "@ferry/core/dualwrite/stream-settings";
import { WORKFLOWS_TABLE } from "@ferry/example-workflows";
import type { DynamoDBRecord } from "aws-lambda";
import { afterAll, describe, expect, it } from "vitest";
import { dropTable, freshExampleTable, testClients } from "../support/dynamo.ts";

const clients = testClients();
const streams = createStreamsClient(clients);
const tables: string[] = [];
afterAll(async () => {
  for (const name of tables) await dropTable(clients, name);
  streams.destroy();
});

const wf = (i: number) => `WF#wf-${String(i).padStart(4, "0")}`;
const seq = (r: DynamoDBRecord) => r.dynamodb?.SequenceNumber ?? "";

describe("local event source mapping checkpoints", () => {
  it("writes one checkpoint per interval instead of one per batch, and the newest on stop, so the next run resumes right after it", async () => {
    const table = await freshExampleTable(clients, "esmc", { pooled: false }); // counts every record from TRIM_HORIZON
    const controlTable = `${table}.ferry`;
    tables.push(table, controlTable);
    await ensureControlTable(clients.raw, controlTable);
    const streamArn = (await describeTable(clients.raw, table))?.LatestStreamArn as string;
    const location = { doc: clients.doc, controlTable, migrationId: "0001_esm-checkpoints" };
    for (let i = 1; i <= 20; i++) await clients.doc.send(new PutCommand({ TableName: table, Item: { PK: "tenant-0001", SK: wf(i) } }));
    const stored = controlTableCheckpoints(location);
    const saves: ShardCheckpoint[] = [];
    const counted: CheckpointStore = {
      load: (arn) => stored.load(arn),
      save: (checkpoint) => {
        saves.push(checkpoint);
        return stored.save(checkpoint);
      },
    };
    const run = (handler: StreamHandler, signal: AbortSignal) =>
      startEventSourceMapping({
        streamsClient: streams,
        streamArn,
        handler,
        settings: { ...streamSettings({ source: { skPrefix: "WF#" }, options: DEFAULT_MIGRATION_OPTIONS }, WORKFLOWS_TABLE), batchSize: 5 },
        checkpoints: counted,
        deadLetters: controlTableDeadLetters(location),
        signal,
        pollIntervalMs: 10,
        checkpointIntervalMs: 60_000,
      });
    const delivered: DynamoDBRecord[][] = [];
    const first = new AbortController();
    const mapping = run(async (event) => {
      delivered.push(event.Records);
      if (delivered.length === 4) first.abort();
      return { batchItemFailures: [] };
    }, first.signal);
    await mapping.done;

    // Four batches: the first checkpoint at once, the rest within the interval, then the newest on stop.
    expect(delivered.map((b) => b.length)).toEqual([5, 5, 5, 5]);
    expect(saves.map((c) => c.sequenceNumber)).toEqual([seq(delivered[0]?.at(-1) as DynamoDBRecord), seq(delivered[3]?.at(-1) as DynamoDBRecord)]);

    for (let i = 21; i <= 22; i++) await clients.doc.send(new PutCommand({ TableName: table, Item: { PK: "tenant-0001", SK: wf(i) } }));
    const again: DynamoDBRecord[] = [];
    const second = new AbortController();
    const resumed = run(async (event) => {
      again.push(...event.Records);
      if (again.length >= 2) second.abort();
      return { batchItemFailures: [] };
    }, second.signal);
    await resumed.done;
    expect(again.map((r) => r.dynamodb?.Keys?.SK?.S)).toEqual([wf(21), wf(22)]);
  });
});
