/**
 * Where a backfill's CPU goes, the measure that holds on a machine shared with other jobs
 * (there wall time is a share of two busy cores, and what a variant costs is its CPU): ferry
 * (`startConversion`, in this process) and the unconditional script of
 * bench/backfill-throughput.ts, each on a fresh engine, with the CPU seconds of this node
 * process and of the engine's JVM (/proc/<pid>/stat) per 1,000 source items, and ferry's
 * DynamoDB calls by command. Not part of `npm run bench`; the README quotes it.
 *   npx tsx bench/profile-backfill-cpu.ts [items=10000] [itemKb=2] [tenants=100] [segments=4]
 */
import { readFileSync } from "node:fs";
import { createDynamoClients, loadMigration, startDynamoDBLocal } from "@ferry/core";
import { startConversion } from "@ferry/core/backfill/control";
import { unconditional } from "./backfill-throughput.ts";
import { ENGINE_HEAP, ENGINE_START_TIMEOUT_MS, log, plainTable, profileCalls, round, seedShape, seedWorkflows } from "./common.ts";

const [items = 10_000, itemKb = 2, tenants = 100, segments = 4] = process.argv.slice(2).map(Number);
process.env.POWERTOOLS_LOG_LEVEL ??= "ERROR";
const migration = await loadMigration("0001");
const TICKS_PER_SECOND = 100;

/** User + system CPU ms of a process so far (Linux /proc/<pid>/stat, fields 14 and 15). */
function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return ((Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND) * 1000;
}
const nodeCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function measure(variant: "ferry" | "unconditional") {
  const engine = await startDynamoDBLocal({ heap: ENGINE_HEAP, startTimeoutMs: ENGINE_START_TIMEOUT_MS });
  const clients = createDynamoClients({ endpoint: engine.endpoint });
  try {
    const table = await plainTable(clients, `cpu-${variant}`);
    await seedWorkflows(clients, table, seedShape(items, itemKb, 11, tenants));
    const javaPid = engine.javaPid;
    if (!javaPid) throw new Error("no JVM pid for the engine (Linux /proc needed)");
    const calls = profileCalls(clients.raw);
    const java0 = processCpuMs(javaPid);
    const node0 = nodeCpuMs();
    const t0 = performance.now();
    if (variant === "ferry") {
      const result = await startConversion({ clients, tableName: table, controlTable: `${table}.ferry`, migration }, { segments, pageSize: 100, rate: 1e9 });
      if (result.totals.converted !== items) throw new Error(`ferry converted ${result.totals.converted} of ${items}`);
    } else if ((await unconditional(clients, table, segments, 100)) !== items) throw new Error("the unconditional script missed items");
    const wallMs = performance.now() - t0;
    const perK = (ms: number) => round((ms / items) * 1000);
    return {
      variant,
      wallMs: Math.round(wallMs),
      itemsPerSecond: Math.round(items / (wallMs / 1000)),
      nodeCpuMsPer1000: perK(nodeCpuMs() - node0),
      engineCpuMsPer1000: perK(processCpuMs(javaPid) - java0),
      calls: Object.fromEntries([...calls].map(([name, times]) => [name.replace(/Command$/, ""), times.length])),
    };
  } finally {
    clients.raw.destroy();
    await engine.stop();
  }
}

const rows = [];
for (const variant of ["ferry", "unconditional"] as const) {
  log(`cpu profile: ${variant}, ${items} x ${itemKb} KB over ${tenants} tenants, ${segments} segments`);
  rows.push(await measure(variant));
}
process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
