/**
 * Measurement 1, seed 000's story: "workflows by context" on v1 (filtered Query over the
 * tenant's whole partition) and v2, timed through the real HTTP server, in two index designs:
 *   batch-get     0001 as shipped (seed 000's design): keys-only index records, Query + BatchGetItem;
 *   index-fields  a variant of 0001 (examples/workflows/src/reads/context-index-fields.ts): the records carry the
 *                 listed fields, one Query.
 * Every repetition starts a fresh engine holding one table: the workflows and both designs'
 * index records side by side (`CTX#`, `CTXF#`), one server per design; requests pick
 * contexts at random and v1, v2 and v2-fields alternate, so all see the same engine state. Beside them,
 * in the same repetition: the engine's floor (the same calls sent directly with the SDK, with
 * the reader's `BETWEEN` and with `begins_with`), the HTTP layer's stages (./http-profile.ts),
 * the network model, and what the wider records cost the dual-write (./index-fields-cost.ts).
 * A row holds the medians over repetitions of each repetition's figure.
 */
import { BatchGetCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { contextId, tenantId } from "@ferry/example-workflows";
import { ensureControlTable } from "@ferry/core/control/control-table";
import { createV1Reader } from "@ferry/example-workflows/reads/v1";
import { prefixRange } from "@ferry/example-workflows/reads/v2";
import { WORKFLOW_SUMMARY_ATTRIBUTES } from "@ferry/example-workflows/reads/view";
import { hs256Tenant, signDevToken } from "../examples/workflows/src/api/auth.ts";
import { buildApiDeps } from "../examples/workflows/src/api/deps.ts";
import { type LocalApiServer, startLocalApiServer } from "../examples/workflows/src/api/local-server.ts";
import { CONTEXT_FIELDS_PREFIX, contextIndexWithFields } from "@ferry/example-workflows/reads/context-index-fields";
import { type HttpProfile, type StageTimings, instrumentDeps, profileHttpLayer } from "./http-profile.ts";
import { type DualWriteCost, measureDualWriteCost } from "./index-fields-cost.ts";
import { keepAliveClient } from "./http-client.ts";
import { injectLatency, removeLatency } from "./network.ts";
import { type Engine, dropTable, log, median, percentile, plainTable, round, seedShape, seedWorkflows, timed, writeContextIndex } from "./common.ts";

export interface ByContextOptions {
  sizes: number[];
  /** Fresh engines per size; the row holds medians over them. */
  repetitions: number;
  /** The network model: at `networkSize` workflows, v1 and v2 again with this delay per DynamoDB call (ms). */
  latenciesMs?: number[];
  networkSize?: number;
  itemKb: number;
  /** v1 requests per size and repetition (each reads the whole partition). */
  v1Requests: (size: number) => number;
  /** v2 requests per design and repetition. */
  v2Requests: number;
  /** Unmeasured v2 requests (and floor calls) per design first: the engine's JIT warm-up. */
  warmupRequests: number;
  /** Requests of the HTTP layer's profile per design and repetition. */
  profileRequests: number;
  /** Modifications applied per design to measure the dual-write's cost (0: leave it out). */
  dualWriteChanges: number;
}

export type Design = "batchGet" | "indexFields";
export const DESIGNS: Design[] = ["batchGet", "indexFields"];

export interface DesignFigures {
  v2: { p50: number; p95: number; n: number };
  ratioP50: number;
  /** The engine's floor: the reader's calls (index Query with BETWEEN, then for batchGet the BatchGetItem) sent directly with the SDK, right after each v2 request (median). */
  floorMs: number;
  /** The same floor with `begins_with` as the key condition. */
  floorBeginsWithMs: number;
  indexQueryMs: number;
  indexQueryBeginsWithMs: number;
  /** The BETWEEN Query in the key-condition comparison (beside begins_with, not beside HTTP requests). */
  indexQueryBetweenAloneMs: number;
  /** 0 for indexFields. */
  batchGetMs: number;
  /** v2 through HTTP in the floor phase (each request beside its floor, no v1 in between). */
  besideFloor: { p50: number; n: number };
  /** besideFloor p50 minus the floor: everything the HTTP layer adds, transport included. */
  httpShareMs: number;
  http: HttpProfile;
}

export interface ByContextRow {
  workflows: number;
  itemKb: number;
  repetitions: number;
  matchesPerContext: number;
  v1: { p50: number; p95: number; n: number; queryPages: number; pageMs: number };
  /** The default design's v2 (0001 as shipped), as in earlier runs. */
  v2: { p50: number; p95: number; n: number };
  ratioP50: number;
  /** Each repetition's v1/v2 p50 ratio per design (the spread). */
  ratiosByRep: Record<Design, number[]>;
  designs: Record<Design, DesignFigures>;
  seedMs: number;
  /** v1 and v2 again with a fixed delay per call (bench/network.ts). */
  network: { latencyMs: number; v1p50: number; v2p50: number; ratioP50: number; fieldsP50: number; fieldsRatioP50: number; v1n: number; v2n: number }[];
  dualWriteCost?: DualWriteCost;
}

const SECRET = "bench-secret-0123456789";

interface Setup {
  table: string;
  controlTable: string;
  server: LocalApiServer;
  stages: StageTimings;
}

/** The index prefix each design's reader reads. */
const PREFIX: Record<Design, string> = { batchGet: "CTX#", indexFields: CONTEXT_FIELDS_PREFIX };

/** One table holding the workflows and both designs' index records (side by side: `CTX#` and `CTXF#`). */
async function seedTable(engine: Engine, size: number, shape: ReturnType<typeof seedShape>) {
  const { clients } = engine;
  const table = await plainTable(clients, `ctx${size}`);
  const controlTable = `${table}.ferry`;
  await ensureControlTable(clients.raw, controlTable);
  const seedMs = await seedWorkflows(clients, table, shape);
  await writeContextIndex(clients, table, shape);
  await writeContextIndex(clients, table, shape, contextIndexWithFields);
  return { table, controlTable, seedMs };
}

async function serve(engine: Engine, table: string, controlTable: string, design: Design): Promise<Setup> {
  const deps = buildApiDeps({
    doc: engine.clients.doc,
    tableName: table,
    controlTable,
    tenant: hs256Tenant(SECRET),
    tokenSecret: "bench",
    logError: (e) => console.error(e),
    v2: design === "batchGet" ? { listing: "batch-get" } : { listing: "index-fields", indexPrefix: CONTEXT_FIELDS_PREFIX },
  });
  // Before the app is built: it may keep the functions it is given.
  const stages = instrumentDeps(deps);
  const server = await startLocalApiServer(deps, { port: 0 });
  return { table, controlTable, server, stages };
}

/** One repetition at one size on a fresh engine. */
async function repetition(newEngine: () => Promise<Engine>, size: number, o: ByContextOptions, rep: number) {
  const engine = await newEngine();
  const { clients } = engine;
  const shape = seedShape(size, o.itemKb);
  const setups: Partial<Record<Design, Setup>> = {};
  const tables: string[] = [];
  const client = keepAliveClient();
  try {
    log(`by-context ${size} rep ${rep}: seeding ${size} workflows of ${o.itemKb} KB and both designs' index records`);
    const seeded = await seedTable(engine, size, shape);
    tables.push(seeded.table, seeded.controlTable);
    for (const design of DESIGNS) setups[design] = await serve(engine, seeded.table, seeded.controlTable, design);
    const bg = { ...seeded };
    const tenant = tenantId(0);
    const headers = { authorization: `Bearer ${await signDevToken(SECRET, tenant)}` };
    const path = (version: "v1" | "v2", ctx: string) => `/${version}/workflows?context=${ctx}&limit=100`;
    const get = async (design: Design, version: "v1" | "v2", ctx: string) => {
      const server = (setups[design] as Setup).server;
      const { ms, value } = await timed(async () => {
        const res = await client.get(`${server.url}${path(version, ctx)}`, headers);
        const body = JSON.parse(res.text) as { items: unknown[]; nextToken: string | null };
        if (res.status !== 200 || body.nextToken !== null) throw new Error(`${version} ${ctx}: ${res.status} ${res.text.slice(0, 200)}`);
        return body.items.length;
      });
      return { ms, count: value };
    };
    const pickContext = (i: number) => contextId((i * 7919) % shape.pool);
    // Warm-up: connections, JIT; and both designs answer the same workflows.
    for (const i of [0, 1, 2]) {
      const a = await get("batchGet", "v2", pickContext(i));
      const b = await get("indexFields", "v2", pickContext(i));
      await get("batchGet", "v1", pickContext(i));
      if (a.count !== b.count) throw new Error(`the index designs disagree on ${pickContext(i)}: ${a.count} vs ${b.count}`);
    }
    // The engine's JIT on v2's calls (Query, BatchGetItem): seeding warms only its write path,
    // and at 1,000 workflows, three requests in, the floor measured 8-10 ms against 5-6 ms at 10,000.
    for (let i = 0; i < o.warmupRequests; i++)
      for (const design of DESIGNS) {
        await get(design, "v2", pickContext(10_000 + i));
        await floorOnce(engine, (setups[design] as Setup).table, design, tenant, pickContext(10_000 + i), "between");
      }
    const measure = async (n1: number, n2: number) => {
      const v1: number[] = [];
      const v2: Record<Design, number[]> = { batchGet: [], indexFields: [] };
      let matches = 0;
      const perV1 = Math.max(1, Math.round(n2 / n1));
      for (let i = 0, j = 0; i < n1 || j < n2; ) {
        if (i < n1) {
          const r = await get("batchGet", "v1", pickContext(1 + i + rep * 100));
          v1.push(r.ms);
          matches = r.count;
          i++;
        }
        for (let k = 0; k < perV1 && j < n2; k++, j++) {
          const ctx = pickContext(1000 + j + rep * 100);
          for (const design of j % 2 ? DESIGNS : [...DESIGNS].reverse()) v2[design].push((await get(design, "v2", ctx)).ms);
        }
      }
      return { v1, v2, matches };
    };
    /**
     * v2 against its floor, without v1 in between (a v1 request loads the engine for seconds
     * and would tax whichever call follows it): each request, then the same calls sent directly
     * for the same context, the order swapped every other time.
     */
    const againstFloor = async (n: number) => {
      const http: Record<Design, number[]> = { batchGet: [], indexFields: [] };
      const floor: Record<Design, { ms: number[]; query: number[]; batchGet: number[] }> = {
        batchGet: { ms: [], query: [], batchGet: [] },
        indexFields: { ms: [], query: [], batchGet: [] },
      };
      for (let j = 0; j < n; j++) {
        const ctx = pickContext(5000 + j + rep * 100);
        for (const design of DESIGNS) {
          const viaHttp = async () => http[design].push((await get(design, "v2", ctx)).ms);
          const direct = async () => {
            const f = await floorOnce(engine, (setups[design] as Setup).table, design, tenant, ctx, "between");
            floor[design].ms.push(f.ms);
            floor[design].query.push(f.queryMs);
            floor[design].batchGet.push(f.batchGetMs);
          };
          if (j % 2) await viaHttp().then(direct);
          else await direct().then(viaHttp);
        }
      }
      return { http, floor };
    };
    const n1 = o.v1Requests(size);
    log(`by-context ${size} rep ${rep}: ${n1} v1 and ${o.v2Requests} v2 requests per design`);
    const { v1, v2, matches } = await measure(n1, o.v2Requests);
    const { http: beside, floor: floors } = await againstFloor(o.v2Requests);
    const pages = (await createV1Reader(clients.doc, bg.table).listByContext({ tenant, contextId: pickContext(5), limit: 100 })).stats.requests;
    const designs = {} as Record<Design, DesignFigures>;
    for (const design of DESIGNS) {
      const setup = setups[design] as Setup;
      const keys = await keyConditions(engine, setup.table, design, tenant, (i) => pickContext(2000 + i));
      const floor = {
        floorMs: round(median(floors[design].ms), 2),
        indexQueryMs: round(median(floors[design].query), 2),
        batchGetMs: round(median(floors[design].batchGet), 2),
        floorBeginsWithMs: keys.floorBeginsWithMs,
        indexQueryBeginsWithMs: keys.indexQueryBeginsWithMs,
        indexQueryBetweenAloneMs: keys.indexQueryBetweenAloneMs,
      };
      const paths = Array.from({ length: 16 }, (_, i) => path("v2", pickContext(3000 + i)));
      const http = await profileHttpLayer(setup.server.deps, setup.stages, setup.server.url, paths, headers, o.profileRequests, client);
      const p50 = median(v2[design]);
      designs[design] = {
        v2: { p50: round(p50, 2), p95: round(percentile(v2[design], 95), 2), n: v2[design].length },
        ratioP50: round(median(v1) / p50),
        ...floor,
        besideFloor: { p50: round(median(beside[design]), 2), n: beside[design].length },
        httpShareMs: round(median(beside[design]) - floor.floorMs, 2),
        http,
      };
    }
    const network: ByContextRow["network"] = [];
    if (size === o.networkSize) {
      for (const latencyMs of o.latenciesMs ?? []) {
        injectLatency(clients.raw, latencyMs);
        try {
          const n = await measure(Math.max(2, Math.round(n1 / 3)), Math.max(10, Math.round(o.v2Requests / 4)));
          network.push({
            latencyMs,
            v1p50: round(median(n.v1)),
            v2p50: round(median(n.v2.batchGet), 2),
            ratioP50: round(median(n.v1) / median(n.v2.batchGet)),
            fieldsP50: round(median(n.v2.indexFields), 2),
            fieldsRatioP50: round(median(n.v1) / median(n.v2.indexFields)),
            v1n: n.v1.length,
            v2n: n.v2.batchGet.length,
          });
          log(`by-context ${size} rep ${rep} at ${latencyMs} ms/call: v1 p50 ${round(median(n.v1))} ms, v2 p50 ${round(median(n.v2.batchGet), 2)} ms`);
        } finally {
          removeLatency(clients.raw);
        }
      }
    }
    const dualWriteCost = o.dualWriteChanges > 0 && size === o.networkSize ? await measureDualWriteCost(engine, bg, shape, o.dualWriteChanges, rep) : undefined;
    log(
      `by-context ${size} rep ${rep}: v1 p50 ${round(median(v1))} ms; v2 p50 ${designs.batchGet.v2.p50} ms (floor ${designs.batchGet.floorMs}), ` +
        `v2 index-fields p50 ${designs.indexFields.v2.p50} ms (floor ${designs.indexFields.floorMs})`,
    );
    return {
      v1: { p50: median(v1), p95: percentile(v1, 95), n: v1.length, queryPages: pages },
      designs,
      matches,
      seedMs: bg.seedMs,
      network,
      dualWriteCost,
    };
  } finally {
    client.close();
    for (const setup of Object.values(setups)) await setup.server.close();
    for (const table of tables) await dropTable(clients, table);
    await engine.stop();
  }
}

export async function benchByContext(newEngine: () => Promise<Engine>, o: ByContextOptions): Promise<ByContextRow[]> {
  const rows: ByContextRow[] = [];
  for (const size of o.sizes) {
    const reps: Awaited<ReturnType<typeof repetition>>[] = [];
    for (let rep = 1; rep <= o.repetitions; rep++) reps.push(await repetition(newEngine, size, o, rep));
    const med = (pick: (r: (typeof reps)[number]) => number, digits = 2) => round(median(reps.map(pick)), digits);
    const designs = Object.fromEntries(DESIGNS.map((d) => [d, medianFigures(reps.map((r) => r.designs[d]))])) as Record<Design, DesignFigures>;
    const v1p50 = med((r) => r.v1.p50, 1);
    rows.push({
      workflows: size,
      itemKb: o.itemKb,
      repetitions: reps.length,
      matchesPerContext: reps[0]?.matches ?? 0,
      v1: {
        p50: v1p50,
        p95: med((r) => r.v1.p95, 1),
        n: reps.reduce((a, r) => a + r.v1.n, 0),
        queryPages: reps[0]?.v1.queryPages ?? 0,
        pageMs: round(v1p50 / (reps[0]?.v1.queryPages ?? 1), 2),
      },
      v2: designs.batchGet.v2,
      ratioP50: designs.batchGet.ratioP50,
      ratiosByRep: Object.fromEntries(DESIGNS.map((d) => [d, reps.map((r) => r.designs[d].ratioP50)])) as Record<Design, number[]>,
      designs,
      seedMs: med((r) => r.seedMs, 0),
      network: medianNetwork(reps.map((r) => r.network)),
      ...(reps.some((r) => r.dualWriteCost) ? { dualWriteCost: medianCost(reps.flatMap((r) => (r.dualWriteCost ? [r.dualWriteCost] : []))) } : {}),
    });
  }
  return rows;
}

/** Medians, field by field, of objects of numbers (nested one level). */
function medianOfObjects<T>(list: T[]): T {
  const first = list[0] as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(first)) {
    if (typeof v === "number") out[k] = round(median(list.map((x) => (x as Record<string, number>)[k] as number)), 3);
    else if (v && typeof v === "object" && !Array.isArray(v)) out[k] = medianOfObjects(list.map((x) => (x as Record<string, unknown>)[k]));
    else out[k] = v;
  }
  return out as T;
}
const medianFigures = (list: DesignFigures[]) => medianOfObjects(list);
const medianCost = (list: DualWriteCost[]) => medianOfObjects(list);
function medianNetwork(list: ByContextRow["network"][]): ByContextRow["network"] {
  const first = list[0] ?? [];
  return first.map((row, i) => ({ ...medianOfObjects(list.map((l) => l[i] ?? row)), v1n: sumOf(list, i, "v1n"), v2n: sumOf(list, i, "v2n") }));
}
const sumOf = (list: ByContextRow["network"][], i: number, k: "v1n" | "v2n") => list.reduce((a, l) => a + (l[i]?.[k] ?? 0), 0);

/**
 * The reader's calls for a design sent directly with the SDK, once: the index Query as the
 * reader sends it (`BETWEEN`, or `begins_with` for the comparison; its projection and Limit),
 * then for batchGet the BatchGetItem of the workflows it names, with v2's projection.
 */
export async function floorOnce(engine: Engine, table: string, design: Design, tenant: string, ctx: string, condition: "between" | "beginsWith") {
  const doc = engine.clients.doc;
  const names = Object.fromEntries(WORKFLOW_SUMMARY_ATTRIBUTES.map((a, i) => [`#s${i}`, a]));
  const projection =
    design === "indexFields"
      ? { ProjectionExpression: ["SK", "wf", ...Object.keys(names)].join(", "), ExpressionAttributeNames: names }
      : { ProjectionExpression: "SK, wf" };
  const prefix = `${PREFIX[design]}${ctx}#`;
  const range = prefixRange(prefix);
  const common = { TableName: table, ...projection, Limit: 100, ReturnConsumedCapacity: "TOTAL" as const };
  const key =
    condition === "between"
      ? { KeyConditionExpression: "PK = :t AND SK BETWEEN :a AND :b", ExpressionAttributeValues: { ":t": tenant, ":a": range.from, ":b": range.to } }
      : { KeyConditionExpression: "PK = :t AND begins_with(SK, :p)", ExpressionAttributeValues: { ":t": tenant, ":p": prefix } };
  const query = await timed(() => doc.send(new QueryCommand({ ...common, ...key })));
  let batchGetMs = 0;
  if (design === "batchGet") {
    const keys = (query.value.Items ?? []).map((r) => ({ PK: tenant, SK: String(r.wf) }));
    const request = { Keys: keys, ProjectionExpression: ["PK", "SK", ...Object.keys(names)].join(", "), ExpressionAttributeNames: names };
    batchGetMs = (await timed(() => doc.send(new BatchGetCommand({ RequestItems: { [table]: request } })))).ms;
  }
  return { queryMs: query.ms, batchGetMs, ms: query.ms + batchGetMs, count: (query.value.Items ?? []).length };
}

/** Both key conditions on the same contexts, 20 times (medians): what `BETWEEN` saves over `begins_with`. */
async function keyConditions(engine: Engine, table: string, design: Design, tenant: string, ctxOf: (i: number) => string) {
  const q: number[] = [];
  const qBegins: number[] = [];
  const floorBegins: number[] = [];
  for (let i = 0; i < 20; i++) {
    const between = await floorOnce(engine, table, design, tenant, ctxOf(i), "between");
    const begins = await floorOnce(engine, table, design, tenant, ctxOf(i), "beginsWith");
    if (between.count !== begins.count) throw new Error("BETWEEN and begins_with disagree");
    q.push(between.queryMs);
    qBegins.push(begins.queryMs);
    floorBegins.push(begins.ms);
  }
  return { floorBeginsWithMs: round(median(floorBegins), 2), indexQueryBetweenAloneMs: round(median(q), 2), indexQueryBeginsWithMs: round(median(qBegins), 2) };
}
