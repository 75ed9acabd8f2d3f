/**
 * Measurement 1, seed 000's story: "workflows by context" on v1 (filtered Query over the
 * tenant's whole partition) and v2 (context-index Query + BatchGet), timed through the real
 * HTTP server after 0001's records exist. Each size gets its own table; requests pick
 * contexts at random, v1 and v2 alternate so both see the same engine state. For the profile,
 * the two halves of a v2 request (index Query, BatchGet) and one v1 page are timed alone too.
 */
import { BatchGetCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { contextId, tenantId } from "@ferry/example-workflows";
import { ensureControlTable } from "@ferry/core/control/control-table";
import { createV1Reader } from "@ferry/example-workflows/reads/v1";
import { WORKFLOW_SUMMARY_ATTRIBUTES } from "@ferry/example-workflows/reads/view";
import { hs256Tenant, signDevToken } from "../examples/workflows/src/api/auth.ts";
import { buildApiDeps } from "../examples/workflows/src/api/deps.ts";
import { startLocalApiServer } from "../examples/workflows/src/api/local-server.ts";
import { injectLatency, removeLatency } from "./network.ts";
import { type Engine, dropTable, log, median, percentile, plainTable, round, seedShape, seedWorkflows, timed, writeContextIndex } from "./common.ts";

export interface ByContextOptions {
  sizes: number[];
  /** The network model: at `networkSize` workflows, v1 and v2 again with this delay per DynamoDB call (ms). */
  latenciesMs?: number[];
  networkSize?: number;
  itemKb: number;
  /** v1 requests per size (each reads the whole partition). */
  v1Requests: (size: number) => number;
  v2Requests: number;
}

export interface ByContextRow {
  workflows: number;
  itemKb: number;
  matchesPerContext: number;
  v1: { p50: number; p95: number; n: number; queryPages: number };
  v2: { p50: number; p95: number; n: number };
  ratioP50: number;
  seedMs: number;
  profile: {
    v1PageMs: number;
    v2IndexQueryMs: number;
    v2BatchGetMs: number;
    v2HttpOverheadMs: number;
    /** The engine's floor: the same index Query then BatchGetItem sent directly with the SDK (median of their sum). */
    v2FloorMs: number;
    /** The same floor with the index Query's key condition as `SK BETWEEN` instead of `begins_with` (same result). */
    v2FloorBetweenMs: number;
    v2IndexQueryBetweenMs: number;
  };
  /** v1 and v2 again with a fixed delay per call (bench/network.ts). */
  network: { latencyMs: number; v1p50: number; v2p50: number; ratioP50: number; v1n: number; v2n: number }[];
}

const SECRET = "bench-secret-0123456789";

export async function benchByContext(newEngine: () => Promise<Engine>, o: ByContextOptions): Promise<ByContextRow[]> {
  const rows: ByContextRow[] = [];
  for (const size of o.sizes) {
    // A fresh engine per size: one engine for all of them drifted as tables piled up.
    const engine = await newEngine();
    const { clients } = engine;
    const shape = seedShape(size, o.itemKb);
    const table = await plainTable(clients, `ctx${size}`);
    const controlTable = `${table}.ferry`;
    await ensureControlTable(clients.raw, controlTable);
    log(`by-context: seeding ${size} workflows of ${o.itemKb} KB`);
    const seedMs = await seedWorkflows(clients, table, shape);
    await writeContextIndex(clients, table, shape);
    const server = await startLocalApiServer(
      buildApiDeps({ doc: clients.doc, tableName: table, controlTable, tenant: hs256Tenant(SECRET), tokenSecret: "bench", logError: (e) => console.error(e) }),
      { port: 0 },
    );
    const tenant = tenantId(0);
    const auth = { authorization: `Bearer ${await signDevToken(SECRET, tenant)}` };
    const get = async (version: "v1" | "v2", ctx: string) => {
      const { ms, value } = await timed(async () => {
        const res = await fetch(`${server.url}/${version}/workflows?context=${ctx}&limit=100`, { headers: auth });
        const body = (await res.json()) as { items: unknown[]; nextToken: string | null };
        if (res.status !== 200 || body.nextToken !== null) throw new Error(`${version} ${ctx}: ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
        return body.items.length;
      });
      return { ms, count: value };
    };
    const pickContext = (i: number) => contextId((i * 7919) % shape.pool);
    try {
      await get("v1", pickContext(0));
      await get("v2", pickContext(0)); // warm-up: connections, JIT
      const measure = async (n1: number, n2: number) => {
        const v1: number[] = [];
        const v2: number[] = [];
        let matches = 0;
        const perV1 = Math.max(1, Math.round(n2 / n1));
        for (let i = 0, j = 0; i < n1 || j < n2; ) {
          if (i < n1) {
            const r = await get("v1", pickContext(1 + i));
            v1.push(r.ms);
            matches = r.count;
            i++;
          }
          for (let k = 0; k < perV1 && j < n2; k++, j++) v2.push((await get("v2", pickContext(1000 + j))).ms);
        }
        return { v1, v2, matches };
      };
      const n1 = o.v1Requests(size);
      log(`by-context ${size}: ${n1} v1 and ${o.v2Requests} v2 requests`);
      const { v1, v2, matches } = await measure(n1, o.v2Requests);
      const profile = await profileParts(engine, table, tenant, pickContext(3), median(v2));
      const v1Reader = createV1Reader(clients.doc, table);
      const pages = (await v1Reader.listByContext({ tenant, contextId: pickContext(5), limit: 100 })).stats.requests;
      profile.v1PageMs = round(median(v1) / pages, 2);
      const network: ByContextRow["network"] = [];
      if (size === o.networkSize) {
        for (const latencyMs of o.latenciesMs ?? []) {
          injectLatency(clients.raw, latencyMs);
          try {
            const n = await measure(Math.max(3, Math.round(n1 / 2)), Math.max(10, Math.round(o.v2Requests / 2)));
            network.push({
              latencyMs,
              v1p50: round(median(n.v1)),
              v2p50: round(median(n.v2), 2),
              ratioP50: round(median(n.v1) / median(n.v2)),
              v1n: n.v1.length,
              v2n: n.v2.length,
            });
            log(`by-context ${size} at ${latencyMs} ms/call: v1 p50 ${round(median(n.v1))} ms, v2 p50 ${round(median(n.v2), 2)} ms`);
          } finally {
            removeLatency(clients.raw);
          }
        }
      }
      rows.push({
        workflows: size,
        itemKb: o.itemKb,
        matchesPerContext: matches,
        v1: { p50: round(median(v1)), p95: round(percentile(v1, 95)), n: v1.length, queryPages: pages },
        v2: { p50: round(median(v2), 2), p95: round(percentile(v2, 95), 2), n: v2.length },
        ratioP50: round(median(v1) / median(v2)),
        seedMs: Math.round(seedMs),
        profile,
        network,
      });
      log(`by-context ${size}: v1 p50 ${round(median(v1))} ms, v2 p50 ${round(median(v2), 2)} ms`);
    } finally {
      await server.close();
      await dropTable(clients, table);
      await dropTable(clients, controlTable);
      await engine.stop();
    }
  }
  return rows;
}

/**
 * The two halves of v2 timed alone through the SDK (medians of 20), their sum per iteration
 * (the engine's floor for this answer), the same with `SK BETWEEN` (the cheapest key
 * condition with the same result: DynamoDB Local scans a `begins_with` range more slowly),
 * and what HTTP + JSON add on top of the floor.
 */
async function profileParts(engine: Engine, table: string, tenant: string, ctx: string, v2HttpMs: number) {
  const q: number[] = [];
  const b: number[] = [];
  const floor: number[] = [];
  const qBetween: number[] = [];
  const floorBetween: number[] = [];
  const names = Object.fromEntries(WORKFLOW_SUMMARY_ATTRIBUTES.map((a, i) => [`#s${i}`, a]));
  const prefix = `CTX#${ctx}#`;
  const batchGet = (items: Record<string, unknown>[] | undefined) => {
    const keys = (items ?? []).map((r) => ({ PK: tenant, SK: String(r.wf) }));
    // The same projection v2 asks for (the list answer leaves the embedded tasks out).
    const request = { Keys: keys, ProjectionExpression: ["PK", "SK", ...Object.keys(names)].join(", "), ExpressionAttributeNames: names };
    return timed(() => engine.clients.doc.send(new BatchGetCommand({ RequestItems: { [table]: request } })));
  };
  for (let i = 0; i < 20; i++) {
    const query = await timed(() =>
      engine.clients.doc.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: "PK = :t AND begins_with(SK, :p)",
          ExpressionAttributeValues: { ":t": tenant, ":p": prefix },
        }),
      ),
    );
    q.push(query.ms);
    const got = await batchGet(query.value.Items);
    b.push(got.ms);
    floor.push(query.ms + got.ms);
    // "#" + 1 is "$": every key with the prefix sorts between the prefix and prefix-with-"$".
    const between = await timed(() =>
      engine.clients.doc.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: "PK = :t AND SK BETWEEN :a AND :b",
          ExpressionAttributeValues: { ":t": tenant, ":a": prefix, ":b": `${prefix.slice(0, -1)}$` },
        }),
      ),
    );
    if ((between.value.Items ?? []).length !== (query.value.Items ?? []).length) throw new Error("BETWEEN and begins_with disagree");
    qBetween.push(between.ms);
    floorBetween.push(between.ms + (await batchGet(between.value.Items)).ms);
  }
  const v2IndexQueryMs = round(median(q), 2);
  const v2BatchGetMs = round(median(b), 2);
  const v2FloorMs = round(median(floor), 2);
  return {
    v1PageMs: 0,
    v2IndexQueryMs,
    v2BatchGetMs,
    v2HttpOverheadMs: round(v2HttpMs - v2FloorMs, 2),
    v2FloorMs,
    v2FloorBetweenMs: round(median(floorBetween), 2),
    v2IndexQueryBetweenMs: round(median(qBetween), 2),
  };
}
