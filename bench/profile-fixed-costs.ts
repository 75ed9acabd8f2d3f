/**
 * Where a small ferry backfill's fixed costs go (issue 19: at 5,000 items ferry converted
 * 739 items/s while the naive script did 813): runs `startConversion` in this process on a
 * fresh engine and splits its wall time into the start (until the first source Scan), the
 * pages (first Scan to the last write of a derived record) and the finish (from there to
 * the end), with every DynamoDB call timed and counted by command and by table (the data
 * table or ferry's control table). Not part of `npm run bench`; the README quotes it.
 *   npx tsx bench/profile-fixed-costs.ts [items=5000] [tenants=10]
 */
import { loadMigration } from "@ferry/core";
import { startConversion } from "@ferry/core/backfill/control";
import { log, plainTable, round, seedShape, seedWorkflows, startEngine } from "./common.ts";

const items = Number(process.argv[2] ?? 5_000);
const tenants = Number(process.argv[3] ?? 10);
const engine = await startEngine();
try {
  const { clients } = engine;
  const table = await plainTable(clients, "fixed");
  await seedWorkflows(clients, table, seedShape(items, 2, 11, tenants));
  const calls = new Map<string, { n: number; ms: number }>();
  let firstScanAt = Number.POSITIVE_INFINITY;
  // Per Scan segment: items read and when its last page came back (a segment holds whole partitions).
  const segments = new Map<number, { items: number; lastPageAt: number }>();
  let lastDataWriteAt = 0;
  const started = performance.now();
  clients.raw.middlewareStack.add(
    (next, context) => async (args) => {
      const t0 = performance.now();
      const input = args.input as { TableName?: string; TransactItems?: unknown[]; RequestItems?: Record<string, unknown> };
      const name = (context.commandName ?? "?").replace(/Command$/, "");
      const target = input.TableName ?? Object.keys(input.RequestItems ?? {})[0];
      const where = target === undefined ? (name === "TransactWriteItems" ? "data" : "?") : target === table ? "data" : "control";
      if (name === "Scan" && where === "data") firstScanAt = Math.min(firstScanAt, t0);
      try {
        const out = await next(args);
        if (name === "Scan" && where === "data") {
          const segment = (input as { Segment?: number }).Segment ?? 0;
          const seg = segments.get(segment) ?? { items: 0, lastPageAt: 0 };
          seg.items += (out.output as { ScannedCount?: number }).ScannedCount ?? 0;
          seg.lastPageAt = performance.now();
          segments.set(segment, seg);
        }
        return out;
      } finally {
        const t1 = performance.now();
        if (where === "data" && name !== "Scan" && name !== "DescribeTable") lastDataWriteAt = Math.max(lastDataWriteAt, t1);
        const key = `${name} (${where})`;
        const c = calls.get(key) ?? { n: 0, ms: 0 };
        c.n++;
        c.ms += t1 - t0;
        calls.set(key, c);
      }
    },
    { step: "initialize", name: "benchFixedCosts" },
  );
  log(`ferry backfill of ${items} x 2 KB over ${tenants} tenants`);
  const result = await startConversion(
    { clients, tableName: table, controlTable: `${table}.ferry`, migration: await loadMigration("0001") },
    { segments: 4, pageSize: 100, rate: 1e9 },
  );
  const ended = performance.now();
  const wallMs = ended - started;
  const out = {
    items,
    status: result.run.status,
    wallMs: Math.round(wallMs),
    itemsPerSecond: Math.round(items / (wallMs / 1000)),
    startMs: Math.round(firstScanAt - started),
    pagesMs: Math.round(lastDataWriteAt - firstScanAt),
    finishMs: Math.round(ended - lastDataWriteAt),
    pagesItemsPerSecond: Math.round(items / ((lastDataWriteAt - firstScanAt) / 1000)),
    executions: result.executions.length,
    segments: [...segments]
      .sort((a, b) => a[0] - b[0])
      .map(([segment, seg]) => `segment ${segment}: ${seg.items} items, last page at ${Math.round(seg.lastPageAt - started)} ms`),
    calls: [...calls].sort((a, b) => b[1].ms - a[1].ms).map(([k, c]) => `${k}: ${c.n} calls, ${Math.round(c.ms)} ms (${round(c.ms / c.n, 2)} ms each)`),
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
} finally {
  await engine.stop();
}
