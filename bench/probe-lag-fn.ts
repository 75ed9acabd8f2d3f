/**
 * Probe: one dual-write lag run on a fresh engine, optionally after another stream table took
 * `pollute` writes and was dropped (what a PutItem ceiling on the same engine leaves behind).
 * `npx tsx bench/probe-lag-fn.ts [rate 200] [seconds 30] [warmup 0] [pollute 0]`
 */
import { UpdateTableCommand } from "@aws-sdk/client-dynamodb";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { enableStream } from "@ferry/core";
import { WORKFLOWS_TABLE } from "@ferry/example-workflows";
import { dropTable, plainTable, startEngine } from "./common.ts";
import { benchDualWriteLag } from "./dual-write-lag.ts";

const [rate = 200, seconds = 30, warmupSeconds = 0, pollute = 0] = process.argv.slice(2).map(Number);
const engine = await startEngine();
if (pollute > 0) {
  const other = await plainTable(engine.clients, "ceiling");
  await enableStream(engine.clients.raw, WORKFLOWS_TABLE, other);
  const pad = "x".repeat(1948);
  for (let k = 0; k < pollute; k += 16)
    await Promise.all(
      Array.from({ length: 16 }, (_, j) =>
        engine.clients.doc.send(new PutCommand({ TableName: other, Item: { PK: `t-${(k + j) % 100}`, SK: `c-${k + j}`, pad } })),
      ),
    );
  if (process.env.PROBE_DISABLE_FIRST)
    await engine.clients.raw.send(new UpdateTableCommand({ TableName: other, StreamSpecification: { StreamEnabled: false } }));
  await dropTable(engine.clients, other);
}
const r = await benchDualWriteLag(engine, {
  writesPerSecond: rate,
  seconds,
  itemKb: 2,
  pollIntervalMs: 50,
  seedItems: 5000,
  warmupSeconds,
  tolerateBacklog: true,
  drainTimeoutMs: 30_000,
});
console.log(JSON.stringify({ pollute, lag: r.lagMs, bySecond: r.lagP99BySecond.join(","), cpu: r.cpuMsPerInsert, unapplied: r.unapplied }));
await engine.stop();
