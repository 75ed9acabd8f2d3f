/**
 * Measurement 2 (and the data for 3 and 6): converting 0001 on N source items four ways,
 * each on a freshly seeded plain table of a fresh engine, variants interleaved in every repetition:
 *   ferry         `startConversion` in a child process (INSERT batches, the validation read and repairs,
 *                 checkpoints, the state machine);
 *   unconditional the same parallel Scan (segments x pageSize) writing the same records with plain
 *                 BatchWriteItem: ferry's read path without its race and owner safety (no validation
 *                 read, a taken key overwritten);
 *   raw ceiling   (a) the derived records computed beforehand, written by parallel BatchWriteItem, no reads;
 *   naive         (b) a one-off script: sequential Scan pages of 25, one BatchWriteItem at a time.
 * items/s counts source items converted per second of wall time.
 *
 * The table is multi-tenant, as seed 000's is: parallel Scan segments split the key space by
 * partition key, so a one-tenant table puts every item in one segment and "4 segments" would
 * measure one (DynamoDB Local: 30,000 items in one partition scanned 8x slower than over 100).
 * The network model runs the four variants again with a fixed delay per call (bench/network.ts).
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { type DynamoClients, batchPutAll, deriveRecords, isSourceItem, loadMigration, planMigration, writeBatch } from "@ferry/core";
import { generateWorkflows } from "@ferry/example-workflows";
import { estimateItemValidationReadUnits, estimateItemWriteUnits } from "@ferry/core/design/capacity";
import { itemSize } from "@ferry/core/dynamo/item-size";
import { type Engine, log, median, plainTable, round, seedShape, seedWorkflows, timed } from "./common.ts";
import { LATENCY_ENV, injectLatency } from "./network.ts";

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
  /** The network model: every variant again with this delay per call (ms), one row each. */
  latenciesMs?: number[];
  /** Source items of the network model's runs (default: items). */
  networkItems?: number;
  /** Only these variants (default all); a left-out variant's figures are NaN. */
  variants?: Variant[];
  /** Skip measurement 3 (the memory runs). */
  skipMemory?: boolean;
}

/** The same four variants with a fixed delay per call (bench/network.ts). */
export interface NetworkRow {
  latencyMs: number;
  items: number;
  itemsPerSecond: Record<Variant, number>;
  runs: Record<Variant, number[]>;
  ferryOverNaive: number;
  ferryOfUnconditional: number;
  /** ferry's DynamoDB calls by command in its last run at this delay. */
  ferryCalls: Record<string, number>;
}

export interface ChildResult {
  status: string;
  elapsedMs: number;
  totals: { sources: number; converted: number; recordsWritten: number; consumedReadUnits: number; consumedWriteUnits: number; scanned: number };
  maxRssKb: number;
  rssBeforeKb: number;
  executions: number;
  /** DynamoDB calls by command. */
  calls: Record<string, number>;
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
  /** ferry's DynamoDB calls by command in its last run. */
  ferryCalls: Record<string, number>;
  /** Step Functions executions of ferry's last run. */
  ferryExecutions: number;
  /** AWS capacity per source item (the plan's model, on the first 200 generated items). */
  unitsPerItem: { write: number; read: number };
  network: NetworkRow[];
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
function runChild(args: string[], latencyMs = 0): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", `${here}backfill-child.ts`, ...args], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, [LATENCY_ENV]: String(latencyMs) },
    });
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

/** Derives a page's source items and puts their records unconditionally, 25 per BatchWriteItem; returns the source items seen. */
async function putDerived(clients: DynamoClients, table: string, items: Record<string, unknown>[]): Promise<number> {
  const sources = items.filter((item) => isSourceItem(migration, item));
  const records = sources.flatMap((item) => deriveRecords(migration, item));
  for (let i = 0; i < records.length; i += 25)
    await writeBatch(
      clients.doc,
      table,
      records.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })),
    );
  return sources.length;
}

export async function unconditional(clients: DynamoClients, table: string, segments: number, pageSize: number): Promise<number> {
  let sources = 0;
  await Promise.all(
    Array.from({ length: segments }, async (_, segment) => {
      let start: Record<string, unknown> | undefined;
      do {
        const page = await clients.doc.send(
          new ScanCommand({ TableName: table, Segment: segment, TotalSegments: segments, Limit: pageSize, ExclusiveStartKey: start, ConsistentRead: true }),
        );
        // Not `sources += await ...`: that reads `sources` before the await, racing the other segments.
        const seen = await putDerived(clients, table, page.Items ?? []);
        sources += seen;
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
    sources += await putDerived(clients, table, page.Items ?? []);
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

/** Starts a fresh engine: every repetition of every variant gets its own (a shared one drifted from run to run). */
export type EngineFactory = () => Promise<Engine>;

/** One variant on a freshly seeded table of its own engine; `latencyMs` is the network model's delay (0: none). */
async function runVariant(
  newEngine: EngineFactory,
  variant: Variant,
  o: ThroughputOptions,
  items: number,
  latencyMs: number,
  ferryHooks: { before?: (engine: Engine, table: string) => Promise<void>; after?: (child: ChildResult) => void } = {},
): Promise<number> {
  const engine = await newEngine();
  try {
    const { clients } = engine;
    const shape = seedShape(items, o.itemKb, 11, o.tenants);
    const table = await plainTable(clients, `bf-${variant}`);
    await seedWorkflows(clients, table, shape);
    // Seeding is not measured: the delay starts with the conversion.
    injectLatency(clients.raw, latencyMs);
    if (variant === "ferry") {
      await ferryHooks.before?.(engine, table);
      const child = await runChild([engine.endpoint, table, String(o.segments), String(o.pageSize)], latencyMs);
      if (child.status !== "completed" || child.totals.converted !== items)
        throw new Error(`ferry backfill did not convert everything: ${JSON.stringify(child)}`);
      ferryHooks.after?.(child);
      return child.elapsedMs;
    }
    if (variant === "raw") return await raw(clients, table, shape, o.segments);
    const r = await timed(() => (variant === "naive" ? naive(clients, table) : unconditional(clients, table, o.segments, o.pageSize)));
    if (r.value !== items) throw new Error(`${variant} converted ${r.value} of ${items}`);
    return r.ms;
  } finally {
    await engine.stop();
  }
}

export async function benchThroughput(newEngine: EngineFactory, o: ThroughputOptions): Promise<ThroughputResult> {
  const runs: Record<Variant, number[]> = { ferry: [], unconditional: [], raw: [], naive: [] };
  const largeRss: number[] = [];
  let plan: PlanComparison | undefined;
  let ferryTotals: ChildResult["totals"] | undefined;
  let ferryCalls: Record<string, number> = {};
  let ferryExecutions = 0;
  const variants = o.variants ?? VARIANTS;
  for (let rep = 1; rep <= o.repetitions; rep++) {
    for (const variant of variants) {
      log(`throughput rep ${rep}/${o.repetitions} ${variant}: fresh engine, seeding ${o.items} x ${o.itemKb} KB over ${o.tenants} tenants`);
      let planned: { ms: number; value: Awaited<ReturnType<typeof planMigration>> } | undefined;
      const ms = await runVariant(newEngine, variant, o, o.items, 0, {
        before: async (engine, table) => {
          if (rep === 1 && !o.skipPlan) planned = await timed(() => planMigration(engine.clients, table, migration, { rate: 1e9 }));
        },
        after: (child) => {
          largeRss.push(child.maxRssKb / 1024);
          ferryTotals = child.totals;
          ferryCalls = child.calls;
          ferryExecutions = child.executions;
          if (!planned) return;
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
        },
      });
      runs[variant].push(ms);
      log(`throughput rep ${rep} ${variant}: ${Math.round(o.items / (ms / 1000))} items/s`);
    }
  }
  const memory = o.skipMemory ? { smallItems: 0, smallMaxRssMb: [], idleRssMb: Number.NaN } : await benchMemorySmall(newEngine, o);
  const ips = itemsPerSecond(runs, o.items);
  const network: NetworkRow[] = [];
  for (const latencyMs of o.latenciesMs ?? []) {
    const items = o.networkItems ?? o.items;
    const netRuns: Record<Variant, number[]> = { ferry: [], unconditional: [], raw: [], naive: [] };
    let ferryCalls: Record<string, number> = {};
    for (let rep = 1; rep <= o.repetitions; rep++) {
      for (const variant of variants) {
        const ms = await runVariant(newEngine, variant, o, items, latencyMs, { after: (child) => (ferryCalls = child.calls) });
        netRuns[variant].push(ms);
        log(`network model ${latencyMs} ms/call, rep ${rep} ${variant}: ${Math.round(items / (ms / 1000))} items/s`);
      }
    }
    const nips = itemsPerSecond(netRuns, items);
    network.push({
      latencyMs,
      items,
      itemsPerSecond: nips,
      runs: roundRuns(netRuns),
      ferryOverNaive: round(nips.ferry / nips.naive, 2),
      ferryOfUnconditional: round((nips.ferry / nips.unconditional) * 100),
      ferryCalls,
    });
  }
  return {
    items: o.items,
    itemKb: o.itemKb,
    tenants: o.tenants,
    segments: o.segments,
    pageSize: o.pageSize,
    runs: roundRuns(runs),
    itemsPerSecond: ips,
    ferryOfRaw: round((ips.ferry / ips.raw) * 100),
    ferryOverNaive: round(ips.ferry / ips.naive, 2),
    ferryOfUnconditional: round((ips.ferry / ips.unconditional) * 100),
    memory: { ...memory, largeMaxRssMb: largeRss.map((m) => round(m)), growth: round((median(largeRss) / median(memory.smallMaxRssMb) - 1) * 100) },
    ...(plan ? { plan } : {}),
    ferryTotals: ferryTotals as ChildResult["totals"],
    ferryCalls,
    ferryExecutions,
    unitsPerItem: unitsPerItem(o),
    network,
  };
}

/** The plan's AWS capacity model per source item, averaged over the first 200 generated items. */
function unitsPerItem(o: ThroughputOptions): { write: number; read: number } {
  let write = 0;
  let read = 0;
  let count = 0;
  for (const w of generateWorkflows(seedShape(o.tenants * 200, o.itemKb, 11, o.tenants))) {
    write += estimateItemWriteUnits(w as never, deriveRecords(migration, w as never));
    // The eventually consistent Scan's share (half a unit per 4 KB) and the strongly consistent validation read.
    read += itemSize(w as never) / 4096 / 2 + estimateItemValidationReadUnits(w as never);
    if (++count === 200) break;
  }
  return { write: round(write / count, 2), read: round(read / count, 3) };
}

const itemsPerSecond = (runs: Record<Variant, number[]>, items: number) =>
  Object.fromEntries(VARIANTS.map((v) => [v, runs[v].length ? Math.round(items / (median(runs[v]) / 1000)) : Number.NaN])) as Record<Variant, number>;

/**
 * Issue 19's two backfill rows, each ratio taken per repetition (ferry and its comparisons
 * run back to back on fresh engines, so a busy machine slows them alike) and the median of
 * those, with the target and met/missed.
 */
export function backfillRows(t: ThroughputResult): string[] {
  const ratios = (other: Variant) => t.runs.ferry.map((ms, i) => (t.runs[other][i] ?? Number.NaN) / ms);
  const rows: [string, Variant, number][] = [
    ["ferry vs the same parallel Scan with unconditional BatchWriteItem", "unconditional", 85],
    ["ferry vs the raw BatchWriteItem ceiling", "raw", 45],
  ];
  return rows.map(([what, other, target]) => {
    const per = ratios(other).map((r) => round(r * 100));
    const med = round(median(per));
    return `| backfill, ${t.items.toLocaleString("en-US")} x ${t.itemKb} KB over ${t.tenants} tenants, ${t.segments} segments: ${what} | ${t.itemsPerSecond.ferry} / ${t.itemsPerSecond[other]} items/s (medians); per repetition ${per.join("%, ")}% | **${med}%** | >= ${target}% | ${med >= target ? "met" : "missed"} |`;
  });
}
const roundRuns = (runs: Record<Variant, number[]>) =>
  Object.fromEntries(VARIANTS.map((v) => [v, runs[v].map((ms) => Math.round(ms))])) as Record<Variant, number[]>;

/** Measurement 3's small point: the same child on `memorySmallItems` items, and a child that converts nothing (an empty table), each on a fresh engine. */
async function benchMemorySmall(newEngine: EngineFactory, o: ThroughputOptions) {
  const small: number[] = [];
  for (let rep = 1; rep <= Math.min(o.repetitions, 3); rep++) {
    const engine = await newEngine();
    try {
      const table = await plainTable(engine.clients, "mem");
      log(`memory rep ${rep}: ${o.memorySmallItems} items`);
      await seedWorkflows(engine.clients, table, seedShape(o.memorySmallItems, o.itemKb, 11, o.tenants));
      const child = await runChild([engine.endpoint, table, String(o.segments), String(o.pageSize)]);
      small.push(child.maxRssKb / 1024);
    } finally {
      await engine.stop();
    }
  }
  const engine = await newEngine();
  try {
    const empty = await plainTable(engine.clients, "idle");
    const idle = await runChild([engine.endpoint, empty, String(o.segments), String(o.pageSize)]);
    return { smallItems: o.memorySmallItems, smallMaxRssMb: small.map((m) => round(m)), idleRssMb: round(idle.maxRssKb / 1024) };
  } finally {
    await engine.stop();
  }
}

// Standalone: only the backfill comparison of issue 19 part 1 (ferry, unconditional, raw), no memory, plan or network runs.
//   npx tsx bench/backfill-throughput.ts [items=20000] [itemKb=2] [tenants=100] [reps=3] [segments=4]
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [items = 20_000, itemKb = 2, tenants = 100, repetitions = 3, segments = 4] = process.argv.slice(2).map(Number);
  process.env.POWERTOOLS_LOG_LEVEL ??= "ERROR";
  const { startEngine } = await import("./common.ts");
  const t = await benchThroughput(startEngine, {
    items,
    itemKb,
    tenants,
    repetitions,
    segments,
    pageSize: 100,
    memorySmallItems: 0,
    skipPlan: true,
    skipMemory: true,
    variants: ["ferry", "unconditional", "raw"],
  });
  process.stdout.write(
    `${["| measurement | items/s | ratio | target | |", "|---|---|---|---|---|", ...backfillRows(t)].join("\n")}\n\nruns (ms): ${JSON.stringify(t.runs)}\nferry calls (last run): ${JSON.stringify(t.ferryCalls)}\nferry totals (last run): ${JSON.stringify(t.ferryTotals)}\n`,
  );
}
