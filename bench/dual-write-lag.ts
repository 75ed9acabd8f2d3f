/**
 * Measurement 4: dual-write lag. The real dual-write handler runs behind the local event
 * source mapping (as `ferry dual-write` does) on a table whose stream is enabled after
 * seeding; a writer inserts new workflows at a fixed rate. Lag = the moment the handler
 * invocation holding an insert returned (its writes acknowledged, so its 0001 records are
 * readable) minus the insert's acknowledgement. A light poller cross-checks 1 insert in 20 by
 * strongly consistent BatchGet (reading every insert would load the engine being measured).
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { BatchGetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { deriveRecords, enableStream, loadMigration, sleep } from "@ferry/core";
import { WORKFLOWS_TABLE, generateWorkflows } from "@ferry/example-workflows";
import { startLocalDualWrite } from "@ferry/core/local/dual-write";
import { createDualWriteHandler } from "@ferry/functions/dual-write";
import { type Engine, dropTable, log, median, percentile, plainTable, profileCalls, round, seedShape, seedWorkflows, sum } from "./common.ts";

export interface LagOptions {
  writesPerSecond: number;
  seconds: number;
  itemKb: number;
  /** The mapping's wait after an empty GetRecords. */
  pollIntervalMs: number;
  /** Existing workflows before the stream is enabled. */
  seedItems: number;
}

export interface LagResult {
  writesPerSecond: number;
  achievedWritesPerSecond: number;
  seconds: number;
  writes: number;
  measured: number;
  /** Source write acknowledged -> the handler's batch applying it returned (its records readable). */
  lagMs: { p50: number; p95: number; p99: number; max: number };
  /**
   * The lag in two parts: acknowledged -> the invocation holding the insert started (the mapping's
   * poll and backlog), and that invocation's own time (the handler's writes).
   */
  lagParts: { deliveryMs: { p50: number; p99: number }; handlerMs: { p50: number; p99: number } };
  /** Delay of this process's event loop (writer, mapping, handler and poller share it). */
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  /** Source write acknowledged -> a strongly consistent BatchGet saw the records (1 insert in 20; bounded by the 10 ms poll). */
  readCheck: { n: number; p50: number; p99: number };
  /** Stream records per handler invocation. */
  batchSize: { p50: number; max: number };
  putAckMs: { p50: number; p99: number };
  /** Handler time per stream record (sum of invocation times / records delivered). */
  handlerMsPerRecord: number;
  invocations: number;
  /** DynamoDB calls of the process by command: count and mean time. */
  calls: Record<string, { n: number; meanMs: number; p99Ms: number; maxMs: number }>;
  pollIntervalMs: number;
  pollPeriodMs: number;
  deadLetters: number;
}

interface Pending {
  keys: { PK: string; SK: string }[];
  sentAt: number;
  ackAt?: number;
  /** When the handler invocation holding this insert started, and when it returned. */
  invokedAt?: number;
  appliedAt?: number;
  batchSize?: number;
  /** Also checked by reads. */
  sampled: boolean;
  seenAt?: number;
}

export async function benchDualWriteLag(engine: Engine, o: LagOptions): Promise<LagResult> {
  const { clients } = engine;
  const migration = await loadMigration("0001");
  const table = await plainTable(clients, "lag");
  const controlTable = `${table}.ferry`;
  await seedWorkflows(clients, table, seedShape(o.seedItems, o.itemKb, 5));
  await enableStream(clients.raw, WORKFLOWS_TABLE, table);
  // Profile: every DynamoDB call of this process by command (writer, handler, checkpoints, poller).
  const calls = profileCalls(clients.raw);
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const invocations: { records: number; ms: number }[] = [];
  const inner = createDualWriteHandler({ migration, doc: clients.doc, tableName: table, controlTable });
  const bySk = new Map<string, Pending>();
  const all: Pending[] = [];
  const open = new Set<Pending>();
  const dualWrite = await startLocalDualWrite({
    clients,
    tableName: table,
    controlTable,
    migration,
    pollIntervalMs: o.pollIntervalMs,
    handler: async (event, context) => {
      const invoked = performance.now();
      const response = await inner(event, context);
      invocations.push({ records: event.Records.length, ms: performance.now() - invoked });
      // The batch's writes are acknowledged: every record it applied is readable from now on.
      const now = performance.now();
      const failed = new Set((response.batchItemFailures ?? []).map((f) => f.itemIdentifier));
      for (const record of event.Records) {
        const sk = record.dynamodb?.Keys?.SK?.S;
        const p = sk ? bySk.get(sk) : undefined;
        if (p && !failed.has(record.dynamodb?.SequenceNumber ?? "")) {
          if (p.appliedAt === undefined) {
            p.invokedAt = invoked;
            p.appliedAt = now;
          }
          p.batchSize = event.Records.length;
          if (!p.sampled) open.delete(p);
        }
      }
      return response;
    },
  });
  const total = Math.round(o.writesPerSecond * o.seconds);
  const source = generateWorkflows({ ...seedShape(total, o.itemKb, 6), firstTenant: 3 });
  let writing = true;
  const pollPeriods: number[] = [];

  // Cross-check by reads, on 1 insert in 20 so the reads do not load the engine the handler writes to.
  const poller = (async () => {
    while (writing || [...open].some((p) => p.sampled)) {
      const started = performance.now();
      const acked = [...open].filter((p) => p.sampled && p.ackAt !== undefined && p.seenAt === undefined).slice(0, 50);
      if (acked.length > 0) {
        const out = await clients.doc.send(
          new BatchGetCommand({ RequestItems: { [table]: { Keys: acked.flatMap((p) => p.keys), ConsistentRead: true, ProjectionExpression: "PK, SK" } } }),
        );
        const now = performance.now();
        const found = new Set((out.Responses?.[table] ?? []).map((r) => `${r.PK}|${r.SK}`));
        for (const p of acked) if (p.keys.every((k) => found.has(`${k.PK}|${k.SK}`))) p.seenAt = now;
      }
      pollPeriods.push(performance.now() - started);
      await sleep(10);
    }
  })();

  log(`dual-write lag: ${total} inserts at ${o.writesPerSecond}/s (mapping poll ${o.pollIntervalMs} ms)`);
  const t0 = performance.now();
  const inflight = new Set<Promise<void>>();
  let i = 0;
  for (const item of source) {
    const due = t0 + (i++ * 1000) / o.writesPerSecond;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const p: Pending = {
      keys: deriveRecords(migration, item as never).map((r) => ({ PK: String(r.PK), SK: String(r.SK) })),
      sentAt: performance.now(),
      sampled: i % 20 === 1,
    };
    all.push(p);
    bySk.set(String(item.SK), p);
    open.add(p);
    const put = clients.doc.send(new PutCommand({ TableName: table, Item: item })).then(() => {
      p.ackAt = performance.now();
    });
    inflight.add(put);
    void put.finally(() => inflight.delete(put));
  }
  await Promise.all(inflight);
  const writeSeconds = (performance.now() - t0) / 1000;
  writing = false;
  const deadline = performance.now() + 60_000;
  const unfinished = () => all.filter((p) => p.appliedAt === undefined || (p.sampled && p.seenAt === undefined)).length;
  while (unfinished() > 0 && performance.now() < deadline) await sleep(50);
  open.clear();
  await poller;
  if (unfinished() > 0) throw new Error(`dual-write lag: ${unfinished()} inserts never showed their records within 60 s`);
  const deadLetters = (await dualWrite.deadLetters()).length;
  await dualWrite.stop();
  clients.raw.middlewareStack.remove("benchProfile");
  loopDelay.disable();
  await dropTable(clients, table);
  await dropTable(clients, controlTable);

  const lags = all.map((p) => (p.appliedAt as number) - (p.ackAt as number));
  const readLags = all.filter((p) => p.sampled).map((p) => (p.seenAt as number) - (p.ackAt as number));
  const acks = all.map((p) => (p.ackAt as number) - p.sentAt);
  const delivery = all.map((p) => (p.invokedAt as number) - (p.ackAt as number));
  const inHandler = all.map((p) => (p.appliedAt as number) - (p.invokedAt as number));
  const q = (xs: number[]) => ({ p50: round(median(xs)), p99: round(percentile(xs, 99)) });
  return {
    writesPerSecond: o.writesPerSecond,
    achievedWritesPerSecond: round(total / writeSeconds),
    seconds: o.seconds,
    writes: total,
    measured: lags.length,
    lagMs: { p50: round(median(lags)), p95: round(percentile(lags, 95)), p99: round(percentile(lags, 99)), max: round(Math.max(...lags)) },
    lagParts: { deliveryMs: q(delivery), handlerMs: q(inHandler) },
    eventLoopDelayMs: { p50: round(loopDelay.percentile(50) / 1e6), p99: round(loopDelay.percentile(99) / 1e6), max: round(loopDelay.max / 1e6) },
    readCheck: { n: readLags.length, p50: round(median(readLags)), p99: round(percentile(readLags, 99)) },
    batchSize: { p50: median(all.map((p) => p.batchSize ?? 0)), max: Math.max(...all.map((p) => p.batchSize ?? 0)) },
    putAckMs: { p50: round(median(acks)), p99: round(percentile(acks, 99)) },
    handlerMsPerRecord: round(
      invocations.reduce((a, b) => a + b.ms, 0) /
        Math.max(
          1,
          invocations.reduce((a, b) => a + b.records, 0),
        ),
      2,
    ),
    invocations: invocations.length,
    calls: Object.fromEntries(
      [...calls].map(([name, times]) => [
        name,
        { n: times.length, meanMs: round(sum(times) / times.length, 2), p99Ms: round(percentile(times, 99)), maxMs: round(Math.max(...times)) },
      ]),
    ),
    pollIntervalMs: o.pollIntervalMs,
    pollPeriodMs: round(median(pollPeriods)),
    deadLetters,
  };
}
