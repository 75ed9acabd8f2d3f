/**
 * Where the API's own time goes on a v2 "workflows by context" request, free of the engine:
 * the app (createApiApp over buildApiDeps, as `ferry serve` builds it) called in-process
 * with the v2 read answered from memory (20 workflows, the answer bench/by-context.ts sees),
 * under the V8 CPU profiler; prints the median per request and the functions with the most
 * self time. Not part of `npm run bench`; the README's benchmark notes quote it.
 *   npx tsx bench/profile-http-app.ts [requests=5000]
 */
import { Session } from "node:inspector/promises";
import { ensureControlTable } from "@ferry/core/control/control-table";
import { generateWorkflows } from "@ferry/example-workflows";
import { createApiApp } from "../examples/workflows/src/api/app.ts";
import { hs256Tenant, signDevToken } from "../examples/workflows/src/api/auth.ts";
import { buildApiDeps } from "../examples/workflows/src/api/deps.ts";
import { type WorkflowReader, WORKFLOW_SUMMARY_ATTRIBUTES, emptyStats, present, workflowIdOfSk } from "../examples/workflows/src/reads/view.ts";
import { median, round, seedShape, startEngine, timed } from "./common.ts";

const requests = Number(process.argv[2] ?? 5_000);
const engine = await startEngine();
try {
  const controlTable = `bench-app-${process.pid}.ferry`;
  await ensureControlTable(engine.clients.raw, controlTable);
  const secret = "bench-secret-0123456789";
  const deps = buildApiDeps({ doc: engine.clients.doc, tableName: "unused", controlTable, tenant: hs256Tenant(secret), tokenSecret: "bench" });
  const items = [...generateWorkflows(seedShape(20, 10))].map((w) => {
    const summary = Object.fromEntries(WORKFLOW_SUMMARY_ATTRIBUTES.filter((a) => a in w).map((a) => [a, (w as Record<string, unknown>)[a]]));
    return present(workflowIdOfSk(w.SK), summary);
  });
  const stub: WorkflowReader = { ...deps.readers.v2, listByContext: async () => ({ items, stats: emptyStats() }) };
  const tenant = "tenant-0001";
  const headers = { authorization: `Bearer ${await signDevToken(secret, tenant)}` };
  const variants = {
    app: createApiApp({ ...deps, readers: { ...deps.readers, v2: stub } }),
    "app, tenant from memory": createApiApp({ ...deps, readers: { ...deps.readers, v2: stub }, tenant: async () => tenant }),
  };
  const request = () => new Request("http://local/v2/workflows?context=ctx-00001&limit=100", { headers });
  for (const app of Object.values(variants)) for (let i = 0; i < 500; i++) await (await app.fetch(request())).text(); // JIT warm-up
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 50 });
  await session.post("Profiler.start");
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
  for (let i = 0; i < requests; i++)
    for (const [name, app] of Object.entries(variants)) times[name]?.push((await timed(async () => (await app.fetch(request())).text())).ms);
  const { profile } = await session.post("Profiler.stop");
  for (const [name, list] of Object.entries(times)) process.stdout.write(`${name}: median ${round(median(list), 3)} ms per request (${list.length})\n`);
  // Self time by function (samples are per node; a node's self time = its hit count x interval).
  const self = new Map<string, number>();
  for (const node of profile.nodes) {
    const f = node.callFrame;
    const where = `${f.functionName || "(anonymous)"} ${f.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*\/wt-[^/]+\//, "")}:${f.lineNumber + 1}`;
    self.set(where, (self.get(where) ?? 0) + (node.hitCount ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  process.stdout.write("self time, top 25 (share of samples, both variants):\n");
  for (const [where, hits] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25))
    process.stdout.write(`  ${((hits / total) * 100).toFixed(1).padStart(5)}%  ${where}\n`);
  await Promise.all([deps.releases.byContext.usage.stop(), deps.releases.workflow.usage.stop()]);
} finally {
  await engine.stop();
}
