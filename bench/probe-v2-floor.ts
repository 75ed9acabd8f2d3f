/**
 * Where v2's time goes above the engine's floor, layer by layer, on one engine: for each
 * context, interleaved and in rotating order, the floor (the reader's calls sent directly),
 * the reader alone, the app in-process (`app.fetch`), the server through `fetch` (undici) and
 * through `node:http` with a keep-alive agent (the transport the SDK itself uses).
 * Not part of `npm run bench`; the README's benchmark notes quote it.
 *   npx tsx bench/probe-v2-floor.ts [workflows=10000] [requests=200] [design=batchGet|indexFields]
 */
import { contextId, tenantId } from "@ferry/example-workflows";
import { ensureControlTable } from "@ferry/core/control/control-table";
import { CONTEXT_FIELDS_PREFIX, contextIndexWithFields } from "@ferry/example-workflows/reads/context-index-fields";
import { createApiApp } from "../examples/workflows/src/api/app.ts";
import { hs256Tenant, signDevToken } from "../examples/workflows/src/api/auth.ts";
import { buildApiDeps } from "../examples/workflows/src/api/deps.ts";
import { startLocalApiServer } from "../examples/workflows/src/api/local-server.ts";
import { floorOnce } from "./by-context.ts";
import { keepAliveClient } from "./http-client.ts";
import { instrumentDeps } from "./http-profile.ts";
import { median, plainTable, round, seedShape, seedWorkflows, startEngine, timed, writeContextIndex } from "./common.ts";

const size = Number(process.argv[2] ?? 10_000);
const requests = Number(process.argv[3] ?? 200);
const design = (process.argv[4] ?? "batchGet") as "batchGet" | "indexFields";
const SECRET = "bench-secret-0123456789";

const engine = await startEngine();
try {
  const { clients } = engine;
  const shape = seedShape(size, 10);
  const table = await plainTable(clients, "probe-v2");
  const controlTable = `${table}.ferry`;
  await ensureControlTable(clients.raw, controlTable);
  await seedWorkflows(clients, table, shape);
  await writeContextIndex(clients, table, shape);
  await writeContextIndex(clients, table, shape, contextIndexWithFields);
  const depsOptions = {
    doc: clients.doc,
    tableName: table,
    controlTable,
    tenant: hs256Tenant(SECRET),
    tokenSecret: "bench",
    v2: design === "batchGet" ? ({ listing: "batch-get" } as const) : ({ listing: "index-fields", indexPrefix: CONTEXT_FIELDS_PREFIX } as const),
  };
  const deps = buildApiDeps(depsOptions);
  const server = await startLocalApiServer(deps, { port: 0 });
  // A second app over its own deps, its stages timed (./http-profile.ts).
  const timedDeps = buildApiDeps({ ...depsOptions });
  const stages = instrumentDeps(timedDeps);
  let readEnd = 0;
  let readStart = 0;
  const innerList = timedDeps.readers.v2.listByContext.bind(timedDeps.readers.v2);
  timedDeps.readers.v2.listByContext = async (r) => {
    readStart = performance.now();
    const out = await innerList(r);
    readEnd = performance.now();
    return out;
  };
  const afterRead: number[] = [];
  const beforeRead: number[] = [];
  const app = createApiApp(timedDeps);
  const tenant = tenantId(0);
  const noAuthApp = createApiApp({ ...buildApiDeps(depsOptions), tenant: async () => tenant });
  const headers = { authorization: `Bearer ${await signDevToken(SECRET, tenant)}` };
  const client = keepAliveClient();
  const floor = (ctx: string) => floorOnce(engine, table, design, tenant, ctx, "between");
  const path = (ctx: string) => `/v2/workflows?context=${ctx}&limit=100`;
  const layers: Record<string, (ctx: string) => Promise<unknown>> = {
    floor,
    reader: (ctx) => deps.readers.v2.listByContext({ tenant, contextId: ctx, limit: 100 }),
    "app.fetch": async (ctx) => {
      const t0 = performance.now();
      const text = await (await app.fetch(new Request(`http://local${path(ctx)}`, { headers }))).text();
      afterRead.push(performance.now() - readEnd);
      beforeRead.push(readStart - t0);
      return text;
    },
    "app.fetch, no auth": async (ctx) => (await noAuthApp.fetch(new Request(`http://local${path(ctx)}`, { headers }))).text(),
    "server via fetch": async (ctx) => (await fetch(`${server.url}${path(ctx)}`, { headers })).text(),
    "server via node:http": async (ctx) => (await client.get(`${server.url}${path(ctx)}`, headers)).text,
  };
  const order = Object.keys(layers);
  const times: Record<string, number[]> = Object.fromEntries(order.map((n) => [n, []]));
  for (let i = 0; i < 20; i++) for (const n of order) await layers[n]?.(contextId(i % shape.pool)); // warm-up
  for (let i = 0; i < requests; i++) {
    const ctx = contextId((i * 7919) % shape.pool);
    for (let k = 0; k < order.length; k++) {
      const n = order[(i + k) % order.length] as string;
      times[n]?.push((await timed(() => (layers[n] as (c: string) => Promise<unknown>)(ctx))).ms);
    }
  }
  const floorMs = median(times.floor ?? []);
  process.stdout.write(`${design}, ${size} workflows, ${requests} requests per layer (medians):\n`);
  for (const n of order) {
    const m = median(times[n] ?? []);
    process.stdout.write(`  ${n.padEnd(22)} ${round(m, 3)} ms  (${round(m / floorMs, 2)}x the floor)\n`);
  }
  for (const [n, list] of Object.entries(stages)) process.stdout.write(`  app.fetch stage ${n.padEnd(8)} ${round(median(list), 3)} ms\n`);
  process.stdout.write(`  app.fetch before the read ${round(median(beforeRead), 3)} ms, after it ${round(median(afterRead), 3)} ms\n`);
  client.close();
  await server.close();
} finally {
  await engine.stop();
}
