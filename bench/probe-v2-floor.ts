/**
 * Where v2's time goes above the engine's floor, layer by layer, on one engine: for each
 * context, interleaved and in rotating order, the floor (the reader's calls sent directly),
 * the reader alone, the app in-process (`app.fetch`), the server through `fetch` (undici) and
 * through `node:http` with a keep-alive agent (the transport the SDK itself uses).
 * Not part of `npm run bench`; the README's benchmark notes quote it.
 *   npx tsx bench/probe-v2-floor.ts [workflows=10000] [requests=200] [design=batchGet|indexFields]
 */
import { Agent, request as httpRequest } from "node:http";
import { BatchGetCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { contextId, tenantId } from "@ferry/example-workflows";
import { ensureControlTable } from "@ferry/core/control/control-table";
import { prefixRange } from "@ferry/example-workflows/reads/v2";
import { WORKFLOW_SUMMARY_ATTRIBUTES } from "@ferry/example-workflows/reads/view";
import { CONTEXT_FIELDS_PREFIX, contextIndexWithFields } from "@ferry/example-workflows/reads/context-index-fields";
import { createApiApp } from "../examples/workflows/src/api/app.ts";
import { hs256Tenant, signDevToken } from "../examples/workflows/src/api/auth.ts";
import { buildApiDeps } from "../examples/workflows/src/api/deps.ts";
import { startLocalApiServer } from "../examples/workflows/src/api/local-server.ts";
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
  const noAuthApp = createApiApp({ ...buildApiDeps(depsOptions), tenant: async () => tenant });
  const tenant = tenantId(0);
  const headers = { authorization: `Bearer ${await signDevToken(SECRET, tenant)}` };
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const names = Object.fromEntries(WORKFLOW_SUMMARY_ATTRIBUTES.map((a, i) => [`#s${i}`, a]));
  const prefixOf = (ctx: string) => `${design === "batchGet" ? "CTX#" : CONTEXT_FIELDS_PREFIX}${ctx}#`;

  const floor = async (ctx: string) => {
    const range = prefixRange(prefixOf(ctx));
    const projection =
      design === "indexFields"
        ? { ProjectionExpression: ["SK", "wf", ...Object.keys(names)].join(", "), ExpressionAttributeNames: names }
        : { ProjectionExpression: "SK, wf" };
    const q = await clients.doc.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: "PK = :t AND SK BETWEEN :a AND :b",
        ExpressionAttributeValues: { ":t": tenant, ":a": range.from, ":b": range.to },
        ...projection,
        Limit: 100,
        ReturnConsumedCapacity: "TOTAL",
      }),
    );
    if (design === "batchGet") {
      const Keys = (q.Items ?? []).map((r) => ({ PK: tenant, SK: String(r.wf) }));
      await clients.doc.send(
        new BatchGetCommand({
          RequestItems: { [table]: { Keys, ProjectionExpression: ["PK", "SK", ...Object.keys(names)].join(", "), ExpressionAttributeNames: names } },
        }),
      );
    }
  };
  const path = (ctx: string) => `/v2/workflows?context=${ctx}&limit=100`;
  const viaNodeHttp = (ctx: string) =>
    new Promise<string>((resolve, reject) => {
      const req = httpRequest(`${server.url}${path(ctx)}`, { agent, headers }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (text += chunk));
        res.on("end", () => resolve(text));
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end();
    });
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
    "server via node:http": viaNodeHttp,
  };
  const names2 = Object.keys(layers);
  const times: Record<string, number[]> = Object.fromEntries(names2.map((n) => [n, []]));
  for (let i = 0; i < 20; i++) for (const n of names2) await layers[n]?.(contextId(i % shape.pool)); // warm-up
  for (let i = 0; i < requests; i++) {
    const ctx = contextId((i * 7919) % shape.pool);
    for (let k = 0; k < names2.length; k++) {
      const n = names2[(i + k) % names2.length] as string;
      times[n]?.push((await timed(() => (layers[n] as (c: string) => Promise<unknown>)(ctx))).ms);
    }
  }
  const floorMs = median(times.floor ?? []);
  process.stdout.write(`${design}, ${size} workflows, ${requests} requests per layer (medians):\n`);
  for (const n of names2) {
    const m = median(times[n] ?? []);
    process.stdout.write(`  ${n.padEnd(22)} ${round(m, 3)} ms  (${round(m / floorMs, 2)}x the floor)\n`);
  }
  for (const [n, list] of Object.entries(stages)) process.stdout.write(`  app.fetch stage ${n.padEnd(8)} ${round(median(list), 3)} ms\n`);
  process.stdout.write(`  app.fetch before the read ${round(median(beforeRead), 3)} ms, after it ${round(median(afterRead), 3)} ms\n`);
  agent.destroy();
  await server.close();
} finally {
  await engine.stop();
}
