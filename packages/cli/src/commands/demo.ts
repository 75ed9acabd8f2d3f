/**
 * `ferry demo` (what `npm start` runs): on the embedded engine, walks a whole online
 * migration of the seed-000 table (design, add, convert, verify, move, remove) while a
 * writer keeps changing workflows, then prints the outcome and checks its own invariant
 * (exit 1 if the derived records do not match the source items exactly). `--keep` leaves
 * the engine, the dual-write and the API running and prints how to call it.
 */
import { FerryError, createDynamoClients, startDynamoDBLocal } from "@ferry/core";
import { DEFAULT_DEMO_SIZES, DEFAULT_DEMO_WALK, DEFAULT_TABLE_NAME, type DemoResult, type DemoWalkOptions, walkDemo } from "@ferry/example-workflows";
import { createDualWriteHandler } from "@ferry/functions/dual-write";
import { Command } from "commander";
import { parseInteger, parseNumber } from "../options.ts";
import { printJson, progressLine, table } from "../output.ts";
import { onShutdown, runCleanups, untilSignal } from "../shutdown.ts";

interface DemoFlags extends Omit<DemoWalkOptions, "canary" | "tableName" | "actor" | "dualWriteHandler"> {
  table: string;
  canary: string;
  keep?: boolean;
  json?: boolean;
}

/** The demo's own invariant failed: the table does not match derive() of its items. */
export class DemoInvariantError extends FerryError {
  constructor(readonly result: DemoResult) {
    super(
      `The demo ended with derived records out of line with the source items (missing ${result.final.missing}, orphans ${result.final.orphans}, different ${result.final.different}). ` +
        "This is a ferry bug: please report it with the output above.",
    );
  }
}

function parseCanary(value: string): number[] {
  const steps = value.split(",").map((s) => Number(s.trim()));
  if (steps.some((n) => !Number.isInteger(n) || n < 1 || n > 99)) throw new FerryError(`--canary takes percents from 1 to 99, e.g. 10,50 (got "${value}")`);
  return steps;
}

export function demoCommand(): Command {
  const d = { ...DEFAULT_DEMO_SIZES, ...DEFAULT_DEMO_WALK };
  return new Command("demo")
    .description("Walk a whole online migration on the embedded DynamoDB Local while the application writes (what `npm start` runs)")
    .option("--large-workflows <n>", "workflows of the large tenant", parseInteger(1), d.largeWorkflows)
    .option("--small-tenants <n>", "small tenants beside it", parseInteger(0, 100), d.smallTenants)
    .option("--small-workflows <n>", "workflows of each small tenant", parseInteger(1), d.smallWorkflows)
    .option("--item-kb <kb>", "workflow size in KB (seed 000's grew to ~10)", parseNumber(1, 350), d.itemKb)
    .option("--sharing <n>", "workflows sharing each context", parseInteger(1), d.sharing)
    .option("--seed <n>", "random seed", parseInteger(0), d.seed)
    .option("--writes-per-second <n>", "the application's background writes", parseInteger(1, 1_000), d.writesPerSecond)
    .option("--latency-contexts <n>", "contexts timed on v1 and v2", parseInteger(1, 1_000), d.latencyContexts)
    .option("--canary <percents>", "canary steps before 100%", d.canary.join(","))
    .option("--v1-idle-seconds <s>", "how long v1 must be unused before remove", parseInteger(0, 3_600), d.v1IdleSeconds)
    .option("--table <name>", "table name", DEFAULT_TABLE_NAME)
    .option("--keep", "leave the engine, dual-write and API running after the demo, until Ctrl-C")
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      "\nExample:\n  $ npm start\n  $ npm start -- --large-workflows 1000 --keep\n  $ npx ferry demo --large-workflows 300 --small-workflows 50 --item-kb 2 --json",
    )
    .action(async (opts: DemoFlags) => {
      const log = (line: string) => !opts.json && process.stdout.write(`${line}\n`);
      const canary = parseCanary(opts.canary);
      log("Starting DynamoDB Local (embedded, in memory)...");
      const engine = await startDynamoDBLocal();
      onShutdown(() => engine.stop());
      log(`  endpoint ${engine.endpoint}`);
      const clients = createDynamoClients({ endpoint: engine.endpoint });
      const { keep, json, table: tableName, ...rest } = opts;
      const { result, runtime } = await walkDemo(
        clients,
        { ...rest, canary, tableName, actor: "ferry-demo", dualWriteHandler: createDualWriteHandler },
        log,
        (label, done, total, startedAt) => (json ? undefined : progressLine(label, done, total, startedAt)),
      );
      onShutdown(() => runtime.stop());
      if (json) printJson({ endpoint: engine.endpoint, ...result });
      else log(`\n${describeResult(result)}`);
      if (!result.final.clean) throw new DemoInvariantError(result);
      if (keep) {
        log(
          `\nStill running until Ctrl-C: DynamoDB Local ${engine.endpoint}, dual-write, API ${runtime.server.url}. Try:\n` +
            `  export FERRY_JWT_SECRET=${runtime.jwtSecret}\n` +
            `  TOKEN=$(npx ferry token --tenant ${runtime.data.largeTenant})\n` +
            `  curl -H "Authorization: Bearer $TOKEN" "${runtime.server.url}/workflows?context=ctx-00001&limit=5"\n` +
            `  npx ferry verify 0001 --endpoint ${engine.endpoint} --table ${tableName}`,
        );
        await untilSignal();
      }
      await runCleanups();
      clients.raw.destroy();
    });
}

function describeResult(r: DemoResult): string {
  const pct = (x?: number) => (x === undefined ? "-" : `${(100 * x).toFixed(1)}%`);
  return table([
    ["", ""],
    ["migration", r.migrationId],
    [
      "workflows converted",
      `${r.convert.converted} of ${r.items} (${r.convert.written} records, ${r.convert.deferred} deferred to the stream, ${r.convert.failed} failed)`,
    ],
    ["convert time", `${(r.convert.ms / 1000).toFixed(1)} s`],
    ["verify after convert", r.verify.clean ? "clean" : `missing ${r.verify.missing}, orphans ${r.verify.orphans}, different ${r.verify.different}`],
    ["shadow agreement (raw)", `${pct(r.shadow.agreement)} of ${r.shadow.compared} comparisons`],
    [
      "shadow agreement (re-checked)",
      `${pct(r.shadow.agreementAfterRecheck)} (${r.shadow.lagged} lagged, ${r.shadow.persistent} persistent${r.shadow.unsettled ? `, ${r.shadow.unsettled} unsettled` : ""})`,
    ],
    ["GET /v1 by context p50 / p95", `${r.latency.v1.p50Ms.toFixed(0)} / ${r.latency.v1.p95Ms.toFixed(0)} ms`],
    ["GET /v2 by context p50 / p95", `${r.latency.v2.p50Ms.toFixed(1)} / ${r.latency.v2.p95Ms.toFixed(1)} ms`],
    ["v2 faster at p50", `${r.latency.ratioP50.toFixed(0)}x`],
    ["GET /v1 after remove", String(r.v1AfterRemove)],
    ["final invariant", r.final.clean ? `clean after ${r.final.writes} live writes` : "NOT clean"],
    ["total time", `${(r.totalMs / 1000).toFixed(1)} s`],
  ]);
}
