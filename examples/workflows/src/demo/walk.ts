/**
 * The demo's walk through the five steps of `0001_workflow-context-index` on a live table:
 * design (check + plan), add (stream, dual-write, API server, a writer changing workflows the
 * whole time), convert (the backfill's state machine with a progress bar), verify, move
 * (canary with shadow reads, then 100%), remove (v1 retired once unused), and the final
 * invariant checked after the writer stops and the stream drains.
 */
import { randomBytes } from "node:crypto";
import {
  type DynamoClients,
  FerryError,
  enableStream,
  type Migration,
  checkMigration,
  loadMigration,
  planMigration,
  conversionStatus,
  sampleTable,
  addStep,
  convertStep,
  designStep,
  lifecycleContext,
  moveStep,
  removeStep,
  readShadowStats,
  describeShadowAgreement,
  type ShadowStats,
  readHeartbeat,
  startLocalDualWrite,
  type StreamHandler,
  type DualWriteDeps,
  type VerifyReport,
  verifyMigration,
  sleep,
  describeKind,
  kindStatus,
} from "@ferry/core";
import { WORKFLOWS_TABLE } from "../table.ts";
import { startLiveWriter } from "../seed/live-writer.ts";
import { hs256Tenant, signDevToken } from "../api/auth.ts";
import { buildApiDeps, deriveTokenSecret } from "../api/deps.ts";
import { type LocalApiServer, startLocalApiServer } from "../api/local-server.ts";
import { type LatencyStats, measureByContext } from "./latency.ts";
import { type DemoData, type DemoSizes, seedDemoTable } from "./scenario.ts";

export interface DemoWalkOptions extends DemoSizes {
  tableName: string;
  /** Background writes per second during the whole walk. */
  writesPerSecond: number;
  /** Contexts of the large tenant timed on v1 and v2. */
  latencyContexts: number;
  /** Canary steps of the move (percent of tenants on v2). */
  canary: number[];
  /** How long v1 must go unused before remove (seconds). */
  v1IdleSeconds: number;
  actor: string;
  /** The dual-write Lambda handler for a migration (the CLI passes the functions' createDualWriteHandler: the example imports only @ferry/core). */
  dualWriteHandler: (deps: DualWriteDeps) => StreamHandler;
}

export const DEFAULT_DEMO_WALK: Omit<DemoWalkOptions, keyof DemoSizes | "tableName" | "dualWriteHandler"> = {
  writesPerSecond: 20,
  latencyContexts: 15,
  canary: [10, 50],
  v1IdleSeconds: 3,
  actor: "ferry-demo",
};

export interface DemoResult {
  migrationId: string;
  items: number;
  seedMs: number;
  convert: { ms: number; converted: number; written: number; deferred: number; failed: number };
  verify: { clean: boolean; missing: number; orphans: number; different: number; settled: number };
  final: { clean: boolean; missing: number; orphans: number; different: number; writes: number };
  /** Raw agreement and agreement after re-check (lagged disagreements resolved, persistent ones counted). */
  shadow: Pick<ShadowStats, "compared" | "agreed" | "lagged" | "persistent" | "unsettled" | "agreement" | "agreementAfterRecheck">;
  latency: Record<"v1" | "v2", LatencyStats> & { ratioP50: number };
  v1AfterRemove: number;
  totalMs: number;
}

export interface DemoRuntime {
  server: LocalApiServer;
  jwtSecret: string;
  token: string;
  data: DemoData;
  stop(): Promise<void>;
}

type Log = (line: string) => void;
type Progress = (label: string, done: number, total: number, startedAt: number) => void;

/** Verifies once; defects met mid-flight under live writes are re-judged after the dual-write's lag. */
async function verifySettled(clients: DynamoClients, table: string, migration: Migration): Promise<{ report: VerifyReport; settled: number }> {
  const report = await verifyMigration(clients, table, migration, { recheckAfterMs: 2_000, rechecks: 3 });
  const before = report.beforeRecheck;
  const settled = before ? before.missing + before.orphans + before.different - (report.missing + report.orphans + report.different) : 0;
  return { report, settled };
}

export async function walkDemo(
  clients: DynamoClients,
  o: DemoWalkOptions,
  log: Log,
  progress: Progress,
): Promise<{ result: DemoResult; runtime: DemoRuntime }> {
  const started = Date.now();
  const migration = await loadMigration("0001");
  const controlTable = `${o.tableName}.ferry`;
  const location = { doc: clients.doc, controlTable, migrationId: migration.id };

  log(`\n[seed] one tenant with ${o.largeWorkflows} workflows and ${o.smallTenants} with ${o.smallWorkflows}, ~${o.itemKb} KB each`);
  const seedStart = Date.now();
  const data = await seedDemoTable(clients, o.tableName, o, (done, total) => progress("seeding", done, total, seedStart));
  log(`  ${data.items} workflows in ${(data.seedMs / 1000).toFixed(1)} s`);

  log(`\n[1 design] ferry check + ferry plan ${migration.id}`);
  // The demo walks one migration; the folder holds one of each kind (README "Migration kinds").
  const others = await Promise.all(["0002", "0003", "0004"].map((ref) => loadMigration(ref)));
  log(`  kind ${describeKind(kindStatus(migration))}; also in migrations/: ${others.map((m) => `${m.id} (${describeKind(kindStatus(m))})`).join(", ")}`);
  const sample = await sampleTable(clients, o.tableName, migration, { size: 500 });
  const check = checkMigration(migration, { sampleItems: sample.sources, otherKeys: sample.otherKeys });
  if (!check.ok) throw new FerryError(`the demo migration failed its check: ${check.problemCount} problems`);
  // Every step below goes through the orchestrator: its guards, history and events.
  const lifecycle = lifecycleContext({
    clients,
    tableName: o.tableName,
    controlTable,
    migration,
    actor: o.actor,
    // A demo cannot soak for a week or wait a day without v1 traffic: the same guards, shorter windows.
    guards: { soakMs: 0, v1QuietWindowMs: o.v1IdleSeconds * 1000 },
  });
  await designStep(lifecycle);
  const plan = await planMigration(clients, o.tableName, migration, {});
  log(
    `  check ok on ${check.checked.sample ?? sample.sources.length} sampled items; plan: ${plan.records.total} records, ${Math.round(plan.writeUnits.total)} WCU, ~${Math.ceil(plan.durationSeconds)} s at ${plan.rate}/s, $${plan.cost.totalUsd.toFixed(4)}`,
  );

  log("\n[2 add] stream on (NEW_AND_OLD_IMAGES), dual-write, API server, and the application writing");
  await enableStream(clients.raw, WORKFLOWS_TABLE, o.tableName);
  await addStep(lifecycle);
  const dualWrite = await startLocalDualWrite({
    clients,
    tableName: o.tableName,
    controlTable,
    migration,
    handler: o.dualWriteHandler({ migration, doc: clients.doc, tableName: o.tableName, controlTable }),
  });
  const jwtSecret = randomBytes(24).toString("base64url");
  const server = await startLocalApiServer(
    buildApiDeps({ doc: clients.doc, tableName: o.tableName, controlTable, tenant: hs256Tenant(jwtSecret), tokenSecret: deriveTokenSecret(jwtSecret) }),
    { port: 0 },
  );
  const writer = startLiveWriter({
    doc: clients.doc,
    tableName: o.tableName,
    workflows: data.workflows,
    contextIds: data.contextIds,
    writesPerSecond: o.writesPerSecond,
    seed: o.seed,
  });
  let stopped = false;
  const stopAll = async () => {
    if (stopped) return;
    stopped = true;
    await writer.stop();
    await server.close();
    await dualWrite.stop();
  };
  log(`  dual-write running, API on ${server.url}, writer at ${o.writesPerSecond} writes/s`);

  try {
    log("\n[3 convert] the backfill state machine, 4 segments, beside the live writes");
    const convertStart = Date.now();
    const ctx = { clients, tableName: o.tableName, controlTable, migration };
    const ticker = setInterval(() => {
      void conversionStatus(ctx)
        .then((s) => progress("converting", s.totals.scanned, Math.max(s.run?.estimatedItems ?? 0, s.totals.scanned, 1), convertStart))
        .catch(() => undefined);
    }, 500);
    // The convert guard wants the dual-write live: wait for its first heartbeat (the writer's changes reach it).
    for (let i = 0; i < 100 && !(await readHeartbeat(clients.doc, controlTable, migration.id)); i++) await sleep(200);
    const conversion = (await convertStep(lifecycle, { settings: { segments: 4 }, run: { owner: "ferry-demo" } }).finally(() => clearInterval(ticker))).result;
    const t = conversion.totals;
    progress("converting", t.scanned, t.scanned, convertStart);
    const convertMs = Date.now() - convertStart;
    log(
      `  ${conversion.run.status}: ${t.converted} converted, ${t.recordsWritten} records, ${t.deferred} deferred to the stream, ${t.failed} failed, in ${(convertMs / 1000).toFixed(1)} s`,
    );

    log("\n[verify] ferry verify: every derived record present, none orphaned, none stale");
    const verified = await verifySettled(clients, o.tableName, migration);
    const v = verified.report;
    log(
      `  ${v.clean ? "clean" : "NOT clean"}: missing ${v.missing}, orphans ${v.orphans}, different ${v.different} (${verified.settled} in-flight changes settled by the dual-write on recheck)`,
    );

    log(`\n[4 move] canary ${o.canary.join("% -> ")}% with shadow reads, then 100%`);
    const token = await signDevToken(jwtSecret, data.largeTenant);
    const tenantTokens = await Promise.all(data.tenants.map((tenant) => signDevToken(jwtSecret, tenant)));
    for (const percent of o.canary) {
      // The first move runs the move guards: convert complete and verify clean.
      await moveStep(lifecycle, { to: "v2", percent, shadow: 100, reason: "demo canary", verify: { recheckAfterMs: 2_000, rechecks: 3 } });
      await sleep(2_100);
      // Unversioned traffic from every tenant: the split decides, the shadow compares.
      for (const [i, tenant] of data.tenants.entries()) {
        for (const ctxId of data.contextIds(tenant).slice(0, 5)) {
          await fetch(`${server.url}/workflows?context=${ctxId}&limit=50`, { headers: { authorization: `Bearer ${tenantTokens[i]}` } });
        }
      }
      await server.deps.background.drain();
      const s = await readShadowStats(location);
      log(`  ${percent}% of tenants on v2: shadow agreement ${describeShadowAgreement(s)}`);
    }
    const contexts = data.contextIds(data.largeTenant).slice(0, o.latencyContexts);
    const latency = await measureByContext(server.url, token, contexts);
    const ratioP50 = latency.v1.p50Ms / latency.v2.p50Ms;
    await moveStep(lifecycle, { to: "v2", percent: 100, shadow: 0, reason: "demo: canary clean" });
    // The latency requests were shadowed too: let their re-checks settle before the figures are read.
    await server.deps.background.drain();
    const shadow = await readShadowStats(location);
    log(
      `  100% on v2. workflows by context (large tenant): v1 p50 ${latency.v1.p50Ms.toFixed(0)} ms, v2 p50 ${latency.v2.p50Ms.toFixed(1)} ms (${ratioP50.toFixed(0)}x)`,
    );

    log(`\n[5 remove] v1 unused for ${o.v1IdleSeconds} s, then retired`);
    // Closing flushes the usage counters; the remove guard then sees v1's last request.
    await server.close();
    await sleep(o.v1IdleSeconds * 1000 + 100);
    await removeStep(lifecycle, { backup: "none" });
    const restarted = await startLocalApiServer(
      buildApiDeps({ doc: clients.doc, tableName: o.tableName, controlTable, tenant: hs256Tenant(jwtSecret), tokenSecret: deriveTokenSecret(jwtSecret) }),
      { port: server.port },
    );
    const gone = await fetch(`${restarted.url}/v1/workflows?context=${contexts[0]}`, { headers: { authorization: `Bearer ${token}` } });
    log(`  GET /v1/workflows -> ${gone.status}; /workflows serves v2`);

    log("\n[final] writer stopped, stream drained, invariant checked");
    const writes = await writer.stop();
    const final = await verifySettled(clients, o.tableName, migration);
    const runtime: DemoRuntime = {
      server: restarted,
      jwtSecret,
      token,
      data,
      stop: async () => {
        await stopAll();
        await restarted.close();
      },
    };
    const result: DemoResult = {
      migrationId: migration.id,
      items: data.items,
      seedMs: data.seedMs,
      convert: { ms: convertMs, converted: t.converted, written: t.recordsWritten, deferred: t.deferred, failed: t.failed },
      verify: { clean: v.clean, missing: v.missing, orphans: v.orphans, different: v.different, settled: verified.settled },
      final: {
        clean: final.report.clean,
        missing: final.report.missing,
        orphans: final.report.orphans,
        different: final.report.different,
        writes: writes.updates + writes.inserts + writes.deletes,
      },
      shadow: {
        compared: shadow.compared,
        agreed: shadow.agreed,
        lagged: shadow.lagged,
        persistent: shadow.persistent,
        unsettled: shadow.unsettled,
        ...(shadow.agreement !== undefined ? { agreement: shadow.agreement } : {}),
        ...(shadow.agreementAfterRecheck !== undefined ? { agreementAfterRecheck: shadow.agreementAfterRecheck } : {}),
      },
      latency: { ...latency, ratioP50 },
      v1AfterRemove: gone.status,
      totalMs: Date.now() - started,
    };
    return { result, runtime };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
