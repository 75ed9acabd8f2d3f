/** `ferry seed`: creates the example table if missing and writes generated workflows. */
import { createDynamoClients } from "@ferry/core";
import { DEFAULT_SEED_OPTIONS, type SeedOptions, seedTable } from "@ferry/example-workflows";
import { Command } from "commander";
import { type ConnectionFlags, parseInteger, parseNumber, withConnectionFlags, withStageFlag, tableFor } from "../options.ts";
import { printJson, progressLine, table } from "../output.ts";

/** Adds the generator knobs, defaulting to DEFAULT_SEED_OPTIONS. */
export function withSeedFlags(command: Command, defaults: SeedOptions = DEFAULT_SEED_OPTIONS): Command {
  return command
    .option("--tenants <n>", "number of tenants (partitions)", parseInteger(1, 10_000), defaults.tenants)
    .option("--workflows <n>", "workflows per tenant", parseInteger(0), defaults.workflows)
    .option("--contexts <n>", "contexts per workflow", parseInteger(0, 100), defaults.contexts)
    .option("--pool <n>", "contexts in each tenant's pool (sharing = workflows x contexts / pool)", parseInteger(1), defaults.pool)
    .option("--tasks <n>", "embedded tasks per workflow", parseInteger(0, 1_000), defaults.tasks)
    .option("--item-kb <kb>", "target item size in KB (1-350)", parseNumber(1, 350), defaults.itemKb)
    .option("--seed <n>", "random seed (same seed, same data)", parseInteger(0), defaults.seed);
}

export function seedCommand(): Command {
  const command = new Command("seed").description("Create the example Workflows table if missing and fill it with generated data");
  withConnectionFlags(command);
  withStageFlag(command, []);
  withSeedFlags(command);
  return command
    .addHelpText(
      "after",
      `
Example: 10,000 workflows of ~10 KB in one tenant, each context shared by ~20 workflows
  $ npx ferry seed --endpoint http://127.0.0.1:8000 --tenants 1 --workflows 10000 \\
      --contexts 2 --pool 1000 --item-kb 10`,
    )
    .action(async (opts: ConnectionFlags & SeedOptions) => {
      const clients = createDynamoClients({ endpoint: opts.endpoint, region: opts.region });
      const started = Date.now();
      const options: SeedOptions = {
        tenants: opts.tenants,
        workflows: opts.workflows,
        contexts: opts.contexts,
        pool: opts.pool,
        tasks: opts.tasks,
        itemKb: opts.itemKb,
        seed: opts.seed,
      };
      const result = await seedTable(clients, tableFor(opts), options, (done, total) => progressLine("seeding", done, total, started));
      clients.raw.destroy();
      if (opts.json) return printJson(result);
      process.stdout.write(`${describeSeed(result, clients.endpoint)}\n`);
    });
}

export function describeSeed(result: Awaited<ReturnType<typeof seedTable>>, endpoint: string | undefined): string {
  const o = result.options;
  const sharing = o.contexts === 0 ? 0 : (o.workflows * o.contexts) / o.pool;
  return table([
    ["table", `${result.tableName}${result.tableCreated ? " (created)" : " (existing)"}`],
    ["endpoint", endpoint ?? "AWS"],
    ["workflows written", `${result.written} (${o.tenants} tenant(s) x ${o.workflows})`],
    ["item size", `~${o.itemKb} KB, ${o.tasks} task(s), ${o.contexts} context(s) from a pool of ${o.pool}`],
    ["workflows per context", sharing.toFixed(1)],
    ["BatchWriteItem calls", `${result.calls} (${result.retries} retried for unprocessed items)`],
    ["write units consumed", result.consumedWriteUnits],
    ["time", `${(result.elapsedMs / 1000).toFixed(1)} s (${Math.round(result.written / (result.elapsedMs / 1000 || 1))} items/s)`],
  ]);
}
