/**
 * Measurement 5: flip propagation. A running API server (release cache at its default) is
 * asked `GET /workflows?context=` (unversioned) in a tight loop while `moveRelease` (what
 * `ferry move --to v2` calls) flips the migration to v2 and back to v1 at random moments.
 * Propagation = first answer carrying the new X-Api-Version minus the start of the move;
 * an older version answering afterwards would be counted as a regression.
 */
import { sleep } from "@ferry/core";
import { tenantId } from "@ferry/example-workflows";
import { DEFAULT_RELEASE_CACHE_OPTIONS } from "@ferry/core/release/cache";
import { moveRelease } from "@ferry/core/release/store";
import { ensureControlTable } from "@ferry/core/control/control-table";
import { hs256Tenant, signDevToken } from "../examples/workflows/src/api/auth.ts";
import { buildApiDeps } from "../examples/workflows/src/api/deps.ts";
import { startLocalApiServer } from "../examples/workflows/src/api/local-server.ts";
import { type Engine, dropTable, log, median, plainTable, round, seedShape, seedWorkflows, writeContextIndex } from "./common.ts";

export interface FlipOptions {
  flips: number;
  workflows: number;
}

export interface FlipResult {
  cacheMs: number;
  flips: number;
  toV2Ms: number[];
  toV1Ms: number[];
  medianMs: number;
  maxMs: number;
  moveCallMs: number;
  requestMs: number;
  regressions: number;
}

const SECRET = "bench-secret-0123456789";

export async function benchFlip(engine: Engine, o: FlipOptions): Promise<FlipResult> {
  const { clients } = engine;
  const shape = seedShape(o.workflows, 1, 3);
  const table = await plainTable(clients, "flip");
  const controlTable = `${table}.ferry`;
  await ensureControlTable(clients.raw, controlTable);
  await seedWorkflows(clients, table, shape);
  await writeContextIndex(clients, table, shape);
  const server = await startLocalApiServer(
    buildApiDeps({ doc: clients.doc, tableName: table, controlTable, tenant: hs256Tenant(SECRET), tokenSecret: "bench", logError: (e) => console.error(e) }),
    { port: 0 },
  );
  const auth = { authorization: `Bearer ${await signDevToken(SECRET, tenantId(0))}` };
  const location = { doc: clients.doc, controlTable, migrationId: "0001_workflow-context-index" };
  const answers: { sentAt: number; at: number; version: string }[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const sentAt = performance.now();
      const res = await fetch(`${server.url}/workflows?context=ctx-00001&limit=10`, { headers: auth });
      await res.arrayBuffer();
      answers.push({ sentAt, at: performance.now(), version: res.headers.get("x-api-version") ?? "?" });
    }
  })();

  const toV2: number[] = [];
  const toV1: number[] = [];
  const moveCalls: number[] = [];
  let regressions = 0;
  let random = 12345;
  const nextRandom = () => {
    random = (random * 1103515245 + 12345) % 2 ** 31;
    return random / 2 ** 31;
  };
  log(`flip: ${o.flips} flips each way, release cache ${DEFAULT_RELEASE_CACHE_OPTIONS.cacheMs} ms`);
  try {
    await sleep(500);
    for (let i = 0; i < o.flips * 2; i++) {
      const to = i % 2 === 0 ? "v2" : "v1";
      // A random phase against the cache's refresh.
      await sleep(300 + nextRandom() * DEFAULT_RELEASE_CACHE_OPTIONS.cacheMs);
      const start = performance.now();
      await moveRelease(location, { to, actor: "bench" });
      moveCalls.push(performance.now() - start);
      let first: number | undefined;
      while (first === undefined) {
        const hit = answers.find((a) => a.sentAt >= start && a.version === to);
        if (hit) first = hit.at;
        else await sleep(5);
      }
      (to === "v2" ? toV2 : toV1).push(first - start);
      // Once one answer is on the new version, requests sent after it must never go back.
      await sleep(300);
      const firstSent = answers.find((a) => a.at === first)?.sentAt ?? first;
      regressions += answers.filter((a) => a.sentAt > firstSent && a.version !== to).length;
    }
  } finally {
    running = false;
    await loop;
    await server.close();
    await dropTable(clients, table);
    await dropTable(clients, controlTable);
  }
  const all = [...toV2, ...toV1];
  return {
    cacheMs: DEFAULT_RELEASE_CACHE_OPTIONS.cacheMs,
    flips: all.length,
    toV2Ms: toV2.map((m) => Math.round(m)),
    toV1Ms: toV1.map((m) => Math.round(m)),
    medianMs: Math.round(median(all)),
    maxMs: Math.round(Math.max(...all)),
    moveCallMs: round(median(moveCalls)),
    requestMs: round(median(answers.map((a) => a.at - a.sentAt)), 2),
    regressions,
  };
}
