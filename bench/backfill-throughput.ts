/**
 * Measurement 2 (and the data for 3 and 6): converting 0001 on N source items four ways,
 * each on a freshly seeded plain table, variants interleaved in every repetition:
 *   ferry         `startConversion` in a child process (race-safe TransactWriteItems, checkpoints, state machine);
 *   unconditional the same parallel Scan (segments x pageSize) writing the same records with plain
 *                 BatchWriteItem: ferry's read path without the race safety (ferry has no switch to turn
 *                 its ConditionChecks off, so this is the "without conditional writes" run);
 *   raw ceiling   (a) the derived records computed beforehand, written by parallel BatchWriteItem, no reads;
 *   naive         (b) a one-off script: sequential Scan pages of 25, one BatchWriteItem at a time.
 * items/s counts source items converted per second of wall time.
 *
 * The table is multi-tenant, as seed 000's is: parallel Scan segments split the key space by
 * partition key, so a one-tenant table puts every item in one segment and "4 segments" would
 * measure one (DynamoDB Local: 30,000 items in one partition scanned 8x slower than over 100).
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { type DynamoClients, batchPutAll, deriveRecords, isSourceItem, loadMigration, planMigration, writeBatch } from "@ferry/core";
import { generateWorkflows } from "@ferry/example-workflows";
import { type Engine, dropTable, log, median, plainTable, round, seedShape, seedWorkflows, timed } from "./common.ts";

export interface ThroughputOptions {
  items: number;
  itemKb: number;
  /** Partitions the items are spread over (see the file comment). */
  tenants: number;
  repetitions: number;
  segments: number;
  pageSize: number;
  /** Items of the small memory run (measurement 3). */
  memorySmallItems: number;
  /** Skip measurement 6: `ferry plan`'s exact count is superlinear on DynamoDB Local (over 13 min at 100,000 items). */
  skipPlan?: boolean;
}

export interface ChildResult {
  status: string;
  elapsedMs: number;
  totals: { sources: number; converted: number; recordsWritten: number; consumedReadUnits: number; consumedWriteUnits: number; scanned: number };
  maxRssKb: number;
  rssBeforeKb: number;
  executions: number;
}

export type Variant = "ferry" | "unconditional" | "raw" | "naive";
export const VARIANTS: Variant[] = ["ferry", "unconditional", "raw", "naive"];

export interface ThroughputResult {
  items: number;
  itemKb: number;
  tenants: number;
  segments: number;
  pageSize: number;
  runs: Record<Variant, number[]>;
  itemsPerSecond: Record<Variant, number>;
  ferryOfRaw: number;
  ferryOverNaive: number;
  ferryOfUnconditional: number;
  memory: { smallItems: number; smallMaxRssMb: number[]; largeMaxRssMb: number[]; growth: number; idleRssMb: number };
  /** Absent with skipPlan. */
  plan?: PlanComparison;
  ferryTotals: ChildResult["totals"];
}

export interface PlanComparison {
  plannedWriteUnits: number;
  consumedWriteUnits: number;
  plannedReadUnits: number;
  consumedReadUnits: number;
  writeError: number;
  readError: number;
  planMs: number;
}

const here = fileURLToPath(new URL(".", import.meta.url));
const migration = await loadMigration("0001");

/** Runs bench/backfill-child.ts (or the idle probe) with tsx and parses its JSON line. */
function runChild(args: string[]): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", `${here}backfill-child.ts`, ...args], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.on("error", reject);
    child.on("exit", (code) => {
      const line = out.trim().split("\n").pop() ?? "";
      if (code !== 0) return reject(new Error(`backfill child exited ${code}: ${out}`));
      resolve(JSON.parse(line) as ChildResult);
    });
  });
}

async function unconditional(clients: DynamoClients, table: string, segments: number, pageSize: number): Promise<number> {
  let sources = 0;
  await Promise.all(
    Array.from({ length: segments }, async (_, segment) => {
      let start: Record<string, unknown> | undefined;
      do {
        const page = await clients.doc.send(
          new ScanCommand({ TableName: table, Segment: segment, TotalSegments: segments, Limit: pageSize, ExclusiveStartKey: start, ConsistentRead: true }),
        );
        const records = (page.Items ?? []).filter((item) => isSourceItem(migration, item)).flatMap((item) => {
          sources++;
          return deriveRecords(migration, item);
        });
        for (let i = 0; i < records.length; i += 25) await writeBatch(clients.doc, table, records.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })));
        start = page.LastEvaluatedKey;
      } while (start);
    }),
  );
  return sources;
}

async function naive(clients: DynamoClients, table: string): Promise<number> {
  let sources = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await clients.doc.send(new ScanCommand({ TableName: table, Limit: 25, ExclusiveStartKey: start }));
    const records = (page.Items ?? []).filter((item) => isSourceItem(migration, item)).flatMap((item) => {
      sources++;
      return deriveRecords(migration, item);
    });
    for (let i = 0; i < records.length; i += 25) await writeBatch(clients.doc, table, records.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })));
    start = page.LastEvaluatedKey;
  } while (start);
  return sources;
}

async function raw(clients: DynamoClients, table: string, shape: ReturnType<typeof seedShape>, concurrency: number): Promise<number> {
  const records: Record<string, unknown>[] = [];
  for (const w of generateWorkflows(shape)) records.push(...deriveRecords(migration, w as never));
  const { ms } = await timed(() => batchPutAll(clients.doc, table, records, { concurrency }));
  return ms;
}

export async function benchThroughput(engine: Engine, o: ThroughputOptions): Promise<ThroughputResult> {
  const { clients } = engine;
  const shape = seedShape(o.items, o.itemKb, 11, o.tenants);
  const runs: Record<Variant, number[]> = { ferry: [], unconditional: [], raw: [], naive: [] };
  const largeRss: number[] = [];
  let plan: PlanComparison | undefined;
  let ferryTotals: ChildResult["totals"] | undefined;
  for (let rep = 1; rep <= o.repetitions; rep++) {
    for (const variant of VARIANTS) {
      const table = await plainTable(clients, `bf-${variant}`);
      log(`throughput rep ${rep}/${o.repetitions} ${variant}: seeding ${o.items} x ${o.itemKb} KB over ${o.tenants} tenants`);
      await seedWorkflows(clients, table, shape);
      let ms: number;
      if (variant === "ferry") {
        const planned = rep === 1 && !o.skipPlan ? await timed(() => planMigration(clients, table, migration, { rate: 1e9 })) : undefined;
        const child = await runChild([engine.endpoint, table, String(o.segments), String(o.pageSize)]);
        if (child.status !== "completed" || child.totals.converted !== o.items) throw new Error(`ferry backfill did not convert everything: ${JSON.stringify(child)}`);
        ms = child.elapsedMs;
        largeRss.push(child.maxRssKb / 1024);
        ferryTotals = child.totals;
        if (planned) {
          const p = planned.value;
          plan = {
            plannedWriteUnits: p.writeUnits.total,
            consumedWriteUnits: round(child.totals.consumedWriteUnits),
            plannedReadUnits: p.readUnits.total,
            consumedReadUnits: round(child.totals.consumedReadUnits),
            writeError: round((p.writeUnits.total / child.totals.consumedWriteUnits - 1) * 100),
            readError: round((p.readUnits.total / child.totals.consumedReadUnits - 1) * 100),
            planMs: Math.round(planned.ms),
          };
        }
      } else if (variant === "raw") {
        ms = await raw(clients, table, shape, o.segments);
      } else {
        const r = await timed(() => (variant === "naive" ? naive(clients, table) : unconditional(clients, table, o.segments, o.pageSize)));
        if (r.value !== o.items) throw new Error(`${variant} converted ${r.value} of ${o.items}`);
        ms = r.ms;
      }
      runs[variant].push(ms);
      log(`throughput rep ${rep} ${variant}: ${Math.round(o.items / (ms / 1000))} items/s`);
      await dropTable(clients, table);
      await dropTable(clients, `${table}.ferry`);
    }
  }
  const memory = await benchMemorySmall(engine, o);
  const ips = Object.fromEntries(VARIANTS.map((v) => [v, Math.round(o.items / (median(runs[v]) / 1000))])) as Record<Variant, number>;
  return {
    items: o.items,
    itemKb: o.itemKb,
    tenants: o.tenants,
    segments: o.segments,
    pageSize: o.pageSize,
    runs: Object.fromEntries(VARIANTS.map((v) => [v, runs[v].map((ms) => Math.round(ms))])) as Record<Variant, number[]>,
    itemsPerSecond: ips,
    ferryOfRaw: round((ips.ferry / ips.raw) * 100),
    ferryOverNaive: round(ips.ferry / ips.naive, 2),
    ferryOfUnconditional: round((ips.ferry / ips.unconditional) * 100),
    memory: { ...memory, largeMaxRssMb: largeRss.map((m) => round(m)), growth: round((median(largeRss) / median(memory.smallMaxRssMb) - 1) * 100) },
    ...(plan ? { plan } : {}),
    ferryTotals: ferryTotals as ChildResult["totals"],
  };
}

/** Measurement 3's small point: the same child on `memorySmallItems` items, and a child that converts nothing (an empty table). */
async function benchMemorySmall(engine: Engine, o: ThroughputOptions) {
  const { clients } = engine;
  const small: number[] = [];
  for (let rep = 1; rep <= Math.min(o.repetitions, 3); rep++) {
    const table = await plainTable(clients, "mem");
    log(`memory rep ${rep}: ${o.memorySmallItems} items`);
    await seedWorkflows(clients, table, seedShape(o.memorySmallItems, o.itemKb, 11, o.tenants));
    const child = await runChild([engine.endpoint, table, String(o.segments), String(o.pageSize)]);
    small.push(child.maxRssKb / 1024);
    await dropTable(clients, table);
    await dropTable(clients, `${table}.ferry`);
  }
  const empty = await plainTable(clients, "idle");
  const idle = await runChild([engine.endpoint, empty, String(o.segments), String(o.pageSize)]);
  await dropTable(clients, empty);
  return { smallItems: o.memorySmallItems, smallMaxRssMb: small.map((m) => round(m)), idleRssMb: round(idle.maxRssKb / 1024) };
}
