/**
 * Where a ferry backfill's time goes: runs `startConversion` in this process on a fresh
 * engine with a middleware that times every DynamoDB call by command (4 segments run at
 * once, so the call times add up to more than the wall time). Not part of `npm run bench`;
 * the bench's README notes quote it.
 *   npx tsx bench/profile-backfill.ts [items=10000] [itemKb=2] [tenants=100]
 */
import { loadMigration } from "@ferry/core";
import { startConversion } from "@ferry/core/backfill/control";
import { log, plainTable, profileCalls, round, seedShape, seedWorkflows, startEngine, sum } from "./common.ts";

const items = Number(process.argv[2] ?? 10_000);
const itemKb = Number(process.argv[3] ?? 2);
const tenants = Number(process.argv[4] ?? 100);
const engine = await startEngine();
try {
  const { clients } = engine;
  const table = await plainTable(clients, "profile");
  await seedWorkflows(clients, table, seedShape(items, itemKb, 11, tenants));
  const calls = profileCalls(clients.raw);
  log(`profiling a ferry backfill of ${items} x ${itemKb} KB`);
  const started = performance.now();
  const result = await startConversion(
    { clients, tableName: table, controlTable: `${table}.ferry`, migration: await loadMigration("0001") },
    { segments: 4, pageSize: 100, rate: 1e9 },
  );
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage();
  const rows = [...calls]
    .map(([name, times]) => ({ name, n: times.length, ms: sum(times) }))
    .sort((a, b) => b.ms - a.ms)
    .map((c) => ({ command: c.name, calls: c.n, meanMs: round(c.ms / c.n, 2), totalMs: Math.round(c.ms), perSourceItemMs: round(c.ms / items, 3) }));
  process.stdout.write(
    `${JSON.stringify({ items, itemKb, status: result.run.status, wallMs: Math.round(wallMs), itemsPerSecond: Math.round(items / (wallMs / 1000)), nodeCpuMs: Math.round((cpu.user + cpu.system) / 1000), calls: rows }, null, 2)}\n`,
  );
} finally {
  await engine.stop();
}
