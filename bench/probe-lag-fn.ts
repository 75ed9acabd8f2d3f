import { benchDualWriteLag } from "./dual-write-lag.ts";
import { startEngine } from "./common.ts";
const engine = await startEngine();
const r = await benchDualWriteLag(engine, {
  writesPerSecond: Number(process.argv[2] ?? 200),
  seconds: Number(process.argv[3] ?? 30),
  itemKb: 2,
  pollIntervalMs: 50,
  seedItems: 5000,
  warmupSeconds: Number(process.argv[4] ?? 0),
  tolerateBacklog: true,
  drainTimeoutMs: 30_000,
});
console.log(
  JSON.stringify({
    bySecond: r.lagP99BySecond.join(","),
    lag: r.lagMs,
    parts: r.lagParts,
    unapplied: r.unapplied,
    cpu: r.cpuMsPerInsert,
    batch: r.batchSize,
    ack: r.putAckMs,
  }),
);
await engine.stop();
