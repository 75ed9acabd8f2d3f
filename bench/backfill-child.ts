/**
 * One ferry backfill in a process of its own, so its peak RSS is the backfill's and not the
 * benchmark's: `startConversion` on the local runtime (the state machine run in-process by
 * aws-local-stepfunctions, as `ferry convert` does), rate uncapped. Prints one JSON line.
 * Usage: tsx bench/backfill-child.ts <endpoint> <table> <segments> <pageSize>
 * (FERRY_BENCH_LATENCY_MS adds the network model's delay to every call.)
 */
import { createDynamoClients, loadMigration } from "@ferry/core";
import { startConversion } from "@ferry/core/backfill/control";
import { profileCalls } from "./common.ts";
import { injectLatency, latencyFromEnv } from "./network.ts";

const [endpoint, table, segments, pageSize] = process.argv.slice(2);
if (!endpoint || !table) throw new Error("usage: backfill-child.ts <endpoint> <table> <segments> <pageSize>");
const clients = createDynamoClients({ endpoint });
injectLatency(clients.raw, latencyFromEnv());
// Where the calls go (with the network model every call costs its delay): counts by command.
const calls = profileCalls(clients.raw);
const migration = await loadMigration("0001");
const rssBeforeKb = process.resourceUsage().maxRSS;
const started = performance.now();
const result = await startConversion(
  { clients, tableName: table, controlTable: `${table}.ferry`, migration },
  { segments: Number(segments ?? 4), pageSize: Number(pageSize ?? 100), rate: 1e9 },
  { owner: `bench:${process.pid}` },
);
const elapsedMs = performance.now() - started;
process.stdout.write(
  `${JSON.stringify({ status: result.run.status, elapsedMs, totals: result.totals, maxRssKb: process.resourceUsage().maxRSS, rssBeforeKb, executions: result.executions.length, calls: Object.fromEntries([...calls].map(([name, times]) => [name.replace(/Command$/, ""), times.length])) })}\n`,
);
clients.raw.destroy();
