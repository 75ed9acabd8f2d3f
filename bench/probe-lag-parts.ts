/** Probe: engine CPU per insert at a fixed write rate, with the stream read by a no-op consumer or the real dual-write. */
import { readFileSync } from "node:fs";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { enableStream, loadMigration, sleep } from "@ferry/core";
import { startLocalDualWrite } from "@ferry/core/local/dual-write";
import { WORKFLOWS_TABLE, generateWorkflows } from "@ferry/example-workflows";
import { createDualWriteHandler } from "@ferry/functions/dual-write";
import { execSync } from "node:child_process";
import { dropTable, plainTable, seedShape, seedWorkflows, startEngine } from "./common.ts";

const mode = process.argv[2] ?? "noop";
const tenants = Number(process.argv[3] ?? 1);
const rate = Number(process.argv[4] ?? 200);
const engine = await startEngine();
const { clients } = engine;
const javaPid = Number(execSync(`pgrep -f DynamoDBLocal.jar | head -1`).toString().trim());
const cpu = () => {
  const f = (readFileSync(`/proc/${javaPid}/stat`, "utf8").split(") ")[1] ?? "").split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
};
const polluted = Number(process.argv[5] ?? 0);
if (polluted > 0) {
  // Another stream table written and dropped first (as the lag bench's PutItem ceiling does).
  const other = await plainTable(clients, "ceiling");
  await enableStream(clients.raw, WORKFLOWS_TABLE, other);
  const pad = "x".repeat(1948);
  for (let k = 0; k < polluted; k += 16)
    await Promise.all(
      Array.from({ length: 16 }, (_, j) => clients.doc.send(new PutCommand({ TableName: other, Item: { PK: `t-${(k + j) % 100}`, SK: `c-${k + j}`, pad } }))),
    );
  if (process.argv[6] !== "keep") await dropTable(clients, other);
}
const migration = await loadMigration("0001");
const table = await plainTable(clients, "lag");
const controlTable = `${table}.ferry`;
await seedWorkflows(clients, table, seedShape(5000, 2, 5, tenants));
await enableStream(clients.raw, WORKFLOWS_TABLE, table);
const real = createDualWriteHandler({ migration, doc: clients.doc, tableName: table, controlTable });
let records = 0;
const dw = await startLocalDualWrite({
  clients,
  tableName: table,
  controlTable,
  migration,
  pollIntervalMs: 50,
  handler: async (event, context) => {
    records += event.Records.length;
    return mode === "noop" ? { batchItemFailures: [] } : real(event, context);
  },
});
const total = rate * Number(process.env.PROBE_SECONDS ?? 20);
const c0 = cpu();
const t0 = performance.now();
let i = 0;
const inflight = new Set<Promise<unknown>>();
for (const item of generateWorkflows({ ...seedShape(total, 2, 6, tenants), firstTenant: 3 })) {
  const wait = t0 + (i++ * 1000) / rate - performance.now();
  if (wait > 0) await sleep(wait);
  const p = clients.doc.send(new PutCommand({ TableName: table, Item: item }));
  inflight.add(p);
  void p.finally(() => inflight.delete(p));
}
await Promise.all(inflight);
const wrote = performance.now();
const c1 = cpu();
while (records < total && performance.now() - wrote < 60_000) await sleep(50);
console.log(
  `${mode} tenants=${tenants} rate=${rate}: writes took ${Math.round(wrote - t0)} ms (achieved ${Math.round((total / (wrote - t0)) * 1000)}/s), drained ${Math.round(performance.now() - wrote)} ms after; ` +
    `engine CPU per insert ${((c1 - c0) / total).toFixed(2)} ms during writes, ${((cpu() - c0) / total).toFixed(2)} ms total; records seen ${records}`,
);
await dw.stop();
await engine.stop();
