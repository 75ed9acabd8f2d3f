/** Probe: the sequence of calls of a backfill under the network model's delay (where a page's time goes). */
import { createDynamoClients, loadMigration } from "@ferry/core";
import { startConversion } from "@ferry/core/backfill/control";
import { plainTable, seedShape, seedWorkflows, startEngine } from "./common.ts";
import { injectLatency } from "./network.ts";

const engine = await startEngine();
const table = await plainTable(engine.clients, "np");
await seedWorkflows(engine.clients, table, seedShape(4000, 2, 11, 100));
const clients = createDynamoClients({ endpoint: engine.endpoint });
injectLatency(clients.raw, Number(process.argv[2] ?? 8));
const t0 = performance.now();
const events: string[] = [];
clients.raw.middlewareStack.add(
  (next, context) => async (args) => {
    const s = performance.now();
    try {
      return await next(args);
    } finally {
      const input = args.input as { TableName?: string; Segment?: number };
      events.push(`${(s - t0).toFixed(0)}-${(performance.now() - t0).toFixed(0)} ${context.commandName} ${input.TableName ?? ""} ${input.Segment ?? ""}`);
    }
  },
  { step: "initialize", name: "probe" },
);
const migration = await loadMigration("0001");
const r = await startConversion({ clients, tableName: table, controlTable: `${table}.ferry`, migration }, { segments: 4, pageSize: 100, rate: 1e9 }, {});
console.log(r.run.status, Math.round(performance.now() - t0), "ms");
console.log(events.slice(0, 120).join("\n"));
await engine.stop();
