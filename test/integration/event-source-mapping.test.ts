// The local event source mapping on DynamoDB Local's real stream: order, batching, restarts, failures, filters.
import { spawn } from "node:child_process";
import { CreateTableCommand } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { ControlSk, DEFAULT_MIGRATION_OPTIONS, type DynamoClients, createTableInput, describeTable, ensureControlTable, migrationPk } from "@ferry/core";
import { WORKFLOWS_TABLE } from "@ferry/example-workflows";
import { type EventSourceMapping, startEventSourceMapping } from "@ferry/core/local/event-source-mapping";
import { controlTableCheckpoints } from "@ferry/core/local/stream-checkpoints";
import { controlTableDeadLetters, listDeadLetters } from "@ferry/core/local/stream-dead-letters";
import type { StreamHandler } from "@ferry/core/streams/lambda-event";
import type { MappingEvent } from "@ferry/core/local/stream-events";
import { createStreamsClient } from "@ferry/core/streams/shards";
import { StreamNotEnabledError } from "@ferry/core/lifecycle/phases/add";
import { type StreamSettings, streamSettings } from "@ferry/core/dualwrite/stream-settings";
import type { Context, DynamoDBRecord } from "aws-lambda";
import { Command } from "commander";
import { afterAll, describe, expect, it } from "vitest";
import { dualWriteCommand } from "../../packages/cli/src/commands/dual-write.ts";
import { ferryArgv } from "../support/cli.ts";
import { dropTable, endpoint, freshExampleTable, scanAll, testClients, uniqueTableName } from "../support/dynamo.ts";

const clients = testClients();
const streams = createStreamsClient(clients);
const tables: string[] = [];
afterAll(async () => {
  for (const name of tables) await dropTable(clients, name);
  streams.destroy();
});

const TENANT = "tenant-0001";
const wf = (i: number) => `WF#wf-${String(i).padStart(4, "0")}`;
const baseSettings = streamSettings({ source: { skPrefix: "WF#" }, options: DEFAULT_MIGRATION_OPTIONS }, WORKFLOWS_TABLE);
const fastRetry = { baseMs: 1, maxMs: 5, maxAttempts: 1_000 };

interface Fixture {
  table: string;
  streamArn: string;
  location: { doc: DynamoClients["doc"]; controlTable: string; migrationId: string };
}

async function fixture(): Promise<Fixture> {
  const table = await freshExampleTable(clients, "esm", { pooled: false }); // counts every record from TRIM_HORIZON
  const controlTable = `${table}.ferry`;
  tables.push(table, controlTable);
  await ensureControlTable(clients.raw, controlTable);
  const streamArn = (await describeTable(clients.raw, table))?.LatestStreamArn;
  if (!streamArn) throw new Error("example table has no stream");
  return { table, streamArn, location: { doc: clients.doc, controlTable, migrationId: "0001_esm-test" } };
}

async function put(f: Fixture, sk: string, extra: Record<string, unknown> = {}): Promise<void> {
  await clients.doc.send(new PutCommand({ TableName: f.table, Item: { PK: TENANT, SK: sk, ...extra } }));
}

function start(
  f: Fixture,
  handler: StreamHandler,
  settings: Partial<StreamSettings> = {},
  extra: { now?: () => number; retryBackoff?: typeof fastRetry } = {},
) {
  const controller = new AbortController();
  const events: MappingEvent[] = [];
  const mapping = startEventSourceMapping({
    streamsClient: streams,
    streamArn: f.streamArn,
    handler,
    settings: { ...baseSettings, ...settings },
    checkpoints: controlTableCheckpoints(f.location),
    deadLetters: controlTableDeadLetters(f.location),
    signal: controller.signal,
    pollIntervalMs: 10,
    describeIntervalMs: 200,
    retryBackoff: extra.retryBackoff ?? fastRetry,
    onEvent: (e) => events.push(e),
    ...(extra.now ? { now: extra.now } : {}),
  });
  return { controller, events, mapping };
}

/** A handler that keeps every batch it is given; `fail` decides per record. */
function recorder(fail?: (record: DynamoDBRecord) => "report" | "throw" | undefined) {
  const batches: DynamoDBRecord[][] = [];
  const contexts: Context[] = [];
  const handler: StreamHandler = async (event, context) => {
    batches.push(event.Records);
    contexts.push(context);
    const failures: { itemIdentifier: string }[] = [];
    for (const r of event.Records) {
      const verdict = fail?.(r);
      if (verdict === "throw") throw new Error(`cannot apply ${r.dynamodb?.Keys?.SK?.S}`);
      if (verdict === "report") failures.push({ itemIdentifier: r.dynamodb?.SequenceNumber ?? "" });
    }
    return { batchItemFailures: failures };
  };
  return { batches, contexts, handler, records: () => batches.flat() };
}

const sk = (r: DynamoDBRecord) => r.dynamodb?.Keys?.SK?.S;
const seq = (r: DynamoDBRecord) => r.dynamodb?.SequenceNumber ?? "";

async function waitFor(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error("timed out waiting for the mapping");
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function stop(run: { controller: AbortController; mapping: EventSourceMapping }) {
  run.controller.abort();
  return run.mapping.done;
}

describe("local event source mapping on DynamoDB Local", () => {
  it("delivers every record once, in order, in Lambda's event shape, in batches of batchSize", async () => {
    const f = await fixture();
    for (let i = 1; i <= 23; i++) await put(f, wf(i), { name: `Workflow ${i}`, blob: new Uint8Array([i]) });
    await clients.doc.send(
      new UpdateCommand({
        TableName: f.table,
        Key: { PK: TENANT, SK: wf(2) },
        UpdateExpression: "SET #n = :n",
        ExpressionAttributeNames: { "#n": "name" },
        ExpressionAttributeValues: { ":n": "renamed" },
      }),
    );
    await clients.doc.send(new DeleteCommand({ TableName: f.table, Key: { PK: TENANT, SK: wf(3) } }));
    const rec = recorder();

    const run = start(f, rec.handler, { batchSize: 10 });
    await waitFor(() => rec.records().length >= 25);
    await new Promise((r) => setTimeout(r, 100));
    const stats = await stop(run);

    const records = rec.records();
    expect(records.map((r) => `${r.eventName} ${sk(r)}`)).toEqual([
      ...Array.from({ length: 23 }, (_, i) => `INSERT ${wf(i + 1)}`),
      `MODIFY ${wf(2)}`,
      `REMOVE ${wf(3)}`,
    ]);
    const seqs = records.map((r) => BigInt(seq(r)));
    expect(seqs.every((s, i) => i === 0 || s > (seqs[i - 1] ?? 0n))).toBe(true);
    expect(rec.batches.map((b) => b.length)).toEqual([10, 10, 5]);
    const modify = records[23];
    expect(modify).toMatchObject({
      eventName: "MODIFY",
      eventVersion: "1.1",
      eventSource: "aws:dynamodb",
      eventSourceARN: f.streamArn,
      dynamodb: {
        Keys: { PK: { S: TENANT }, SK: { S: wf(2) } },
        NewImage: { PK: { S: TENANT }, SK: { S: wf(2) }, name: { S: "renamed" }, blob: { B: Buffer.from([2]).toString("base64") } },
        OldImage: { name: { S: "Workflow 2" } },
        StreamViewType: "NEW_AND_OLD_IMAGES",
      },
    });
    expect(typeof modify?.eventID).toBe("string");
    expect(typeof modify?.awsRegion).toBe("string");
    expect(typeof modify?.dynamodb?.SizeBytes).toBe("number");
    const created = modify?.dynamodb?.ApproximateCreationDateTime ?? 0;
    expect(Math.abs(created - Date.now() / 1000)).toBeLessThan(120);
    expect(records[24]?.dynamodb?.NewImage).toBeUndefined();
    expect(rec.contexts[0]?.getRemainingTimeInMillis()).toBeGreaterThan(0);
    expect(stats).toMatchObject({ invocations: 3, delivered: 25, filtered: 0, deadLettered: 0, failedInvocations: 0 });
  });

  it("resumes after a stop exactly after the last processed record: nothing lost, nothing twice", async () => {
    const f = await fixture();
    for (let i = 1; i <= 30; i++) await put(f, wf(i));
    const firstRun = recorder();
    // Stop while the third batch is in flight: it finishes and is checkpointed, nothing after it starts.
    let run: ReturnType<typeof start> | undefined;
    const stopping: StreamHandler = async (event, context) => {
      const result = await firstRun.handler(event, context);
      if (firstRun.batches.length === 3) run?.controller.abort();
      return result;
    };
    run = start(f, stopping, { batchSize: 5 });
    await run.mapping.done;
    for (let i = 31; i <= 50; i++) await put(f, wf(i));
    const checkpointAfterStop = (await controlTableCheckpoints(f.location).load(f.streamArn)).values().next().value;

    const secondRun = recorder();
    const resumed = start(f, secondRun.handler, { batchSize: 5 });
    await waitFor(() => secondRun.records().length >= 35);
    await new Promise((r) => setTimeout(r, 100));
    await stop(resumed);

    expect(firstRun.records().map(sk)).toEqual(Array.from({ length: 15 }, (_, i) => wf(i + 1)));
    expect(checkpointAfterStop?.sequenceNumber).toBe(seq(firstRun.records()[14] as DynamoDBRecord));
    expect(secondRun.records().map(sk)).toEqual(Array.from({ length: 35 }, (_, i) => wf(i + 16)));
  });

  it("leaves a failed record unprocessed when stopped during its retry backoff, and delivers it after a restart", async () => {
    const f = await fixture();
    for (let i = 1; i <= 4; i++) await put(f, wf(i));
    const failing = recorder((r) => (sk(r) === wf(2) ? "report" : undefined));
    const run = start(f, failing.handler, { batchSize: 10 }, { retryBackoff: { baseMs: 60_000, maxMs: 60_000, maxAttempts: 10 } });
    await waitFor(() => run.events.some((e) => e.type === "retry"));
    const stopped = Date.now();
    await stop(run);
    expect(Date.now() - stopped).toBeLessThan(5_000);

    const healthy = recorder();
    const resumed = start(f, healthy.handler);
    await waitFor(() => healthy.records().length >= 3);
    await stop(resumed);

    expect(failing.batches.map((b) => b.map(sk))).toEqual([[wf(1), wf(2), wf(3), wf(4)]]);
    expect(healthy.records().map(sk)).toEqual([wf(2), wf(3), wf(4)]);
  });

  it("dead-letters a poison record after maximumRetryAttempts with the handler's reason, and carries on", async () => {
    const f = await fixture();
    for (let i = 1; i <= 6; i++) await put(f, wf(i), i === 3 ? { poison: true } : {});
    const poison = recorder((r) => (r.dynamodb?.NewImage?.poison ? "report" : undefined));
    const handler: StreamHandler = async (event, context) => {
      // Like the dual-write handler: say why in a failure record, then report the record.
      for (const r of event.Records) {
        if (!r.dynamodb?.NewImage?.poison) continue;
        await clients.doc.send(
          new PutCommand({
            TableName: f.location.controlTable,
            Item: { PK: migrationPk(f.location.migrationId), SK: ControlSk.failure(seq(r)), reason: "SourceSchemaError: tasks must be an array" },
          }),
        );
      }
      return poison.handler(event, context);
    };

    const run = start(f, handler, { batchSize: 10, maximumRetryAttempts: 2 });
    await waitFor(() => run.mapping.stats().deadLettered === 1 && run.mapping.stats().delivered === 5);
    const stats = await stop(run);

    const deliveriesOfPoison = poison.records().filter((r) => sk(r) === wf(3));
    expect(deliveriesOfPoison).toHaveLength(3);
    const letters = await listDeadLetters(f.location);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      keys: { PK: TENANT, SK: wf(3) },
      eventName: "INSERT",
      sequenceNumber: seq(deliveriesOfPoison[0] as DynamoDBRecord),
      reason: "SourceSchemaError: tasks must be an array",
      cause: "retries-exhausted",
      attempts: 3,
      streamArn: f.streamArn,
    });
    expect(typeof letters[0]?.shardId).toBe("string");
    // Later records were delivered after the poison was given up, and the checkpoint passed it.
    expect(poison.batches.at(-1)?.map(sk)).toEqual([wf(4), wf(5), wf(6)]);
    const checkpoint = [...(await controlTableCheckpoints(f.location).load(f.streamArn)).values()][0];
    expect(checkpoint?.sequenceNumber).toBe(seq(poison.records().at(-1) as DynamoDBRecord));
    expect(stats).toMatchObject({ delivered: 5, deadLettered: 1, retries: 2 });
  });

  it("bisects a batch whose handler throws down to the bad record, dead-letters it with the error, delivers the rest", async () => {
    const f = await fixture();
    for (let i = 1; i <= 8; i++) await put(f, wf(i));
    const throwing = recorder((r) => (sk(r) === wf(6) ? "throw" : undefined));

    const run = start(f, throwing.handler, { batchSize: 8, maximumRetryAttempts: 1 });
    await waitFor(() => run.mapping.stats().deadLettered === 1 && run.mapping.stats().delivered === 7);
    const stats = await stop(run);

    expect(throwing.batches.map((b) => b.map((r) => Number(sk(r)?.slice(-4))))).toEqual([
      [1, 2, 3, 4, 5, 6, 7, 8],
      [1, 2, 3, 4],
      [5, 6, 7, 8],
      [5, 6],
      [5],
      [6],
      [6],
      [7, 8],
    ]);
    const letters = await listDeadLetters(f.location);
    expect(letters.map((l) => [l.keys.SK, l.reason, l.attempts])).toEqual([[wf(6), `Error: cannot apply ${wf(6)}`, 2]]);
    expect(stats).toMatchObject({ bisections: 3, delivered: 7, deadLettered: 1, retries: 1 });
  });

  it("keeps non-source keys from the handler as the filter criteria say, and checkpoints past them", async () => {
    const f = await fixture();
    await put(f, wf(1));
    await put(f, "CTX#ctx-1#WF#wf-0001", { wf: wf(1) });
    await put(f, wf(2));
    await clients.doc.send(new DeleteCommand({ TableName: f.table, Key: { PK: TENANT, SK: wf(1) } }));
    await put(f, "CTX#ctx-2#WF#wf-0002", { wf: wf(2) });
    const rec = recorder();

    const run = start(f, rec.handler);
    await waitFor(() => run.mapping.stats().filtered === 2 && rec.records().length === 3);
    const stats = await stop(run);

    expect(rec.records().map((r) => `${r.eventName} ${sk(r)}`)).toEqual([`INSERT ${wf(1)}`, `INSERT ${wf(2)}`, `REMOVE ${wf(1)}`]);
    expect(stats).toMatchObject({ delivered: 3, filtered: 2 });
    const checkpoint = [...(await controlTableCheckpoints(f.location).load(f.streamArn)).values()][0];
    expect(BigInt(checkpoint?.sequenceNumber ?? "0")).toBeGreaterThan(BigInt(seq(rec.records()[2] as DynamoDBRecord)));
  });

  it("dead-letters records older than maximumRecordAgeInSeconds without invoking the handler", async () => {
    const f = await fixture();
    await put(f, wf(1));
    await put(f, wf(2));
    const rec = recorder();

    const twoHoursLater = () => Date.now() + 2 * 3_600_000;
    const run = start(f, rec.handler, { maximumRecordAgeInSeconds: 3_600 }, { now: twoHoursLater });
    await waitFor(() => run.mapping.stats().deadLettered === 2);
    await stop(run);

    expect(rec.batches).toEqual([]);
    const letters = await listDeadLetters(f.location);
    expect(letters.map((l) => [l.keys.SK, l.cause])).toEqual([
      [wf(1), "record-expired"],
      [wf(2), "record-expired"],
    ]);
    expect(letters[0]?.reason).toMatch(/older than maximumRecordAgeInSeconds \(3600 s\)/);
  });
});

/** Runs `ferry dual-write` in a child process (test/support/cli.ts's ferry: main.ts registers the command). */
function spawnDualWrite(args: string[]) {
  const child = spawn(process.execPath, [...ferryArgv(), "dual-write", ...args], {
    cwd: new URL("../..", import.meta.url).pathname,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", POWERTOOLS_LOG_LEVEL: "ERROR" },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

describe("ferry dual-write", () => {
  it("applies the migration to stream changes in the foreground and stops cleanly on SIGINT", async () => {
    const f = await fixture();
    await put(f, wf(1), {
      contexts: [
        { id: "ctx-a", name: "A" },
        { id: "ctx-b", name: "B" },
      ],
    });
    const run = spawnDualWrite(["0001", "--table", f.table, "--endpoint", endpoint(), "--report-every", "1", "--poll-interval", "20"]);
    try {
      await waitFor(() => run.out().includes("records applied 1"), 45_000);
      await put(f, wf(2), { contexts: [{ id: "ctx-c", name: "C" }] });
      await waitFor(() => run.out().includes("records applied 2"), 20_000);

      run.child.kill("SIGINT");
      const code = await run.exited;

      expect(code).toBe(130);
      expect(run.out()).toContain(`Dual-writing 0001_workflow-context-index from ${f.streamArn}`);
      expect(run.out()).toMatch(/Stopped\. batches \d+ \(0 failed\) · records applied 2/);
      const derived = (await scanAll(clients, f.table))
        .map((i) => String(i.SK))
        .filter((k) => k.startsWith("CTX#"))
        .sort();
      expect(derived).toEqual([`CTX#ctx-a#${wf(1)}`, `CTX#ctx-b#${wf(1)}`, `CTX#ctx-c#${wf(2)}`]);
      const checkpoint = [...(await controlTableCheckpoints({ ...f.location, migrationId: "0001_workflow-context-index" }).load(f.streamArn)).values()][0];
      expect(checkpoint?.sequenceNumber).toMatch(/^\d+$/);
    } finally {
      run.child.kill("SIGKILL");
    }
  }, 90_000);

  it("fails with how to enable the stream when the table has none", async () => {
    const table = uniqueTableName("nostream");
    tables.push(table, `${table}.ferry`);
    await clients.raw.send(new CreateTableCommand(createTableInput(WORKFLOWS_TABLE, table, { stream: false })));

    const attempt = new Command("ferry")
      .exitOverride()
      .addCommand(dualWriteCommand().exitOverride())
      .parseAsync(["dual-write", "0001", "--table", table, "--endpoint", endpoint()], { from: "user" });

    await expect(attempt).rejects.toBeInstanceOf(StreamNotEnabledError);
    await expect(attempt).rejects.toThrow("StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES");
  });
});
