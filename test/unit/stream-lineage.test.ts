// Shard lineage of the local event source mapping over a scripted (recorded) multi-shard stream.
import { WORKFLOWS_TABLE } from "@ferry/example-workflows";
import { DEFAULT_MIGRATION_OPTIONS, ensureControlTable } from "@ferry/core";
import { startEventSourceMapping } from "@ferry/core/local/event-source-mapping";
import { controlTableCheckpoints } from "@ferry/core/local/stream-checkpoints";
import { controlTableDeadLetters } from "@ferry/core/local/stream-dead-letters";
import type { StreamHandler } from "@ferry/core/streams/lambda-event";
import type { MappingEvent } from "@ferry/core/local/stream-events";
import { readyShards } from "@ferry/core/streams/lineage";
import { describeStreamShards } from "@ferry/core/streams/shards";
import { type StreamSettings, streamSettings } from "@ferry/core/dualwrite/stream-settings";
import { afterAll, describe, expect, it } from "vitest";
import { dropTable, testClients, uniqueTableName } from "../support/dynamo.ts";
import { ScriptedStreamsClient, loadScript } from "../fixtures/stream-responses/scripted-stream.ts";

const clients = testClients();
const created: string[] = [];
afterAll(async () => {
  for (const name of created) await dropTable(clients, name);
});

async function controlLocation() {
  const controlTable = uniqueTableName("ctl");
  created.push(controlTable);
  await ensureControlTable(clients.raw, controlTable);
  return { doc: clients.doc, controlTable, migrationId: "0001_lineage" };
}

// The recorded records are from the day they were recorded: never expire them here.
const settings: StreamSettings = {
  ...streamSettings({ source: { skPrefix: "WF#" }, options: DEFAULT_MIGRATION_OPTIONS }, WORKFLOWS_TABLE),
  batchSize: 2,
  maximumRecordAgeInSeconds: -1,
};

async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error("timed out waiting for the mapping");
    await new Promise((r) => setTimeout(r, 10));
  }
}

function run(client: ScriptedStreamsClient, location: Awaited<ReturnType<typeof controlLocation>>) {
  const delivered: { seq: string; sk: string; eventName: string }[] = [];
  const events: MappingEvent[] = [];
  const handler: StreamHandler = async (event) => {
    for (const r of event.Records) {
      delivered.push({ seq: r.dynamodb?.SequenceNumber ?? "", sk: r.dynamodb?.Keys?.SK?.S ?? "", eventName: r.eventName ?? "" });
    }
    return { batchItemFailures: [] };
  };
  const controller = new AbortController();
  const mapping = startEventSourceMapping({
    streamsClient: client,
    streamArn: client.script.streamArn,
    handler,
    settings,
    checkpoints: controlTableCheckpoints(location),
    deadLetters: controlTableDeadLetters(location),
    signal: controller.signal,
    pollIntervalMs: 5,
    describeIntervalMs: 20,
    onEvent: (e) => events.push(e),
  });
  return { delivered, events, controller, mapping };
}

const seqsOf = (client: ScriptedStreamsClient, name: string) => client.sdkRecords(name).map((r) => r.dynamodb?.SequenceNumber ?? "");

describe("DescribeStream pagination", () => {
  it("follows LastEvaluatedShardId to list every shard once", async () => {
    const client = new ScriptedStreamsClient(loadScript("lineage"));
    client.listings = 5; // every scripted shard is listed by now

    const summary = await describeStreamShards(client, client.script.streamArn);

    expect(summary.shards.map((s) => s.shardId)).toEqual(client.script.shards.map((s) => s.Shard.ShardId));
    const pages = client.calls.filter((c) => c.command === "DescribeStream");
    expect(pages.map((c) => c.input.ExclusiveStartShardId)).toEqual([undefined, client.idOf("C1"), client.idOf("G")]);
    expect(summary.shards.find((s) => s.shardId === client.idOf("C1"))).toMatchObject({
      parentShardId: client.idOf("P"),
      endingSequenceNumber: client.shard("C1").Shard.SequenceNumberRange?.EndingSequenceNumber,
    });
  });
});

describe("readyShards", () => {
  const shard = (shardId: string, parentShardId?: string) => ({ shardId, ...(parentShardId ? { parentShardId } : {}) });

  it("holds children until their parent is finished, and lets orphans start", () => {
    const listed = [shard("p"), shard("c1", "p"), shard("c2", "p"), shard("g", "c1"), shard("orphan", "trimmed")];

    expect(readyShards(listed, new Set(), new Set()).map((s) => s.shardId)).toEqual(["p", "orphan"]);
    expect(readyShards(listed, new Set(["p"]), new Set(["orphan"])).map((s) => s.shardId)).toEqual(["c1", "c2"]);
    expect(readyShards(listed, new Set(["p", "c1"]), new Set(["c2", "orphan"])).map((s) => s.shardId)).toEqual(["g"]);
  });
});

describe("local event source mapping over a multi-shard stream", () => {
  it("reads parents before children, picks up a new shard mid-run, and delivers each record once", async () => {
    const client = new ScriptedStreamsClient(loadScript("lineage"));
    const location = await controlLocation();
    const { delivered, events, controller, mapping } = run(client, location);

    await waitFor(() => mapping.stats().delivered === 10 && mapping.stats().filtered === 1);
    controller.abort();
    const stats = await mapping.done;

    const order = delivered.map((d) => d.seq);
    const all = ["P", "C1", "C2", "G", "N"].flatMap((name) => seqsOf(client, name));
    const ctx = client.sdkRecords("G").find((r) => r.dynamodb?.Keys?.SK?.S?.startsWith("CTX#"))?.dynamodb?.SequenceNumber;
    expect([...order].sort()).toEqual(all.filter((s) => s !== ctx).sort());
    expect(new Set(order).size).toBe(order.length);
    const last = (name: string) =>
      Math.max(
        ...seqsOf(client, name)
          .filter((s) => s !== ctx)
          .map((s) => order.indexOf(s)),
      );
    const first = (name: string) =>
      Math.min(
        ...seqsOf(client, name)
          .map((s) => order.indexOf(s))
          .filter((i) => i >= 0),
      );
    expect(last("P")).toBeLessThan(first("C1"));
    expect(last("P")).toBeLessThan(first("C2"));
    expect(last("C1")).toBeLessThan(first("G"));
    expect(last("C2")).toBeLessThan(first("N"));
    for (const name of ["P", "C1", "C2", "G", "N"]) {
      const inShard = order.filter((s) => seqsOf(client, name).includes(s));
      expect(inShard).toEqual(seqsOf(client, name).filter((s) => inShard.includes(s)));
    }
    // N was not listed at first: it started only after the third listing closed C2 and listed N.
    const nStarted = events.findIndex((e) => e.type === "shard-started" && e.shardId === client.idOf("N"));
    const c2Finished = events.findIndex((e) => e.type === "shard-finished" && e.shardId === client.idOf("C2"));
    expect(c2Finished).toBeGreaterThanOrEqual(0);
    expect(nStarted).toBeGreaterThan(c2Finished);
    const nFirstListed = client.calls.find((c) => c.command === "GetShardIterator" && c.input.ShardId === client.idOf("N"));
    expect(nFirstListed?.listing).toBeGreaterThanOrEqual(3);
    expect(delivered.find((d) => d.seq === seqsOf(client, "N")[0])?.eventName).toBe("REMOVE");
    expect(stats).toMatchObject({ delivered: 10, filtered: 1, deadLettered: 0, shardsFinished: 3 });

    const checkpoints = await controlTableCheckpoints(location).load(client.script.streamArn);
    expect(checkpoints.get(client.idOf("P"))).toMatchObject({ finished: true, sequenceNumber: seqsOf(client, "P").at(-1) });
    expect(checkpoints.get(client.idOf("C2"))?.finished).toBe(true);
    // The last record of G is filtered; the checkpoint still moves past it.
    expect(checkpoints.get(client.idOf("G"))).toMatchObject({ finished: false, sequenceNumber: seqsOf(client, "G").at(-1) });
  });

  it("after a restart, skips finished shards and resumes open ones after their checkpoints", async () => {
    const location = await controlLocation();
    const firstClient = new ScriptedStreamsClient(loadScript("lineage"));
    const first = run(firstClient, location);
    await waitFor(() => first.mapping.stats().delivered === 10 && first.mapping.stats().filtered === 1);
    first.controller.abort();
    await first.mapping.done;

    // The stream as a new consumer sees it now: C2 closed, N listed from the start.
    const script = loadScript("lineage");
    for (const s of script.shards) delete s.appearsAtListing;
    const secondClient = new ScriptedStreamsClient(script);
    secondClient.listings = 3;
    const second = run(secondClient, location);
    await waitFor(() => second.events.filter((e) => e.type === "shard-started").length === 2);
    await new Promise((r) => setTimeout(r, 100));
    second.controller.abort();
    await second.mapping.done;

    expect(second.delivered).toEqual([]);
    const iterators = secondClient.calls.filter((c) => c.command === "GetShardIterator");
    expect(iterators.map((c) => [c.input.ShardId, c.input.ShardIteratorType, c.input.SequenceNumber]).sort()).toEqual(
      [
        [secondClient.idOf("G"), "AFTER_SEQUENCE_NUMBER", seqsOf(secondClient, "G").at(-1)],
        [secondClient.idOf("N"), "AFTER_SEQUENCE_NUMBER", seqsOf(secondClient, "N").at(-1)],
      ].sort(),
    );
  });

  it("starts a child whose parent is no longer listed (trimmed) without waiting", async () => {
    const script = loadScript("lineage");
    script.shards = script.shards.filter((s) => s.name === "C1" || s.name === "G");
    const client = new ScriptedStreamsClient(script);
    const location = await controlLocation();
    const { delivered, controller, mapping } = run(client, location);

    await waitFor(() => mapping.stats().delivered === 4);
    controller.abort();
    await mapping.done;

    expect(delivered.map((d) => d.seq)).toEqual([...seqsOf(client, "C1"), ...seqsOf(client, "G").slice(0, 2)]);
  });
});
