/**
 * `ferry demo` (what `npm start` runs): starts the embedded engine, creates and seeds the
 * seed-000 example table, prints what it did and stops everything (or keeps it with --keep).
 */
import { DEFAULT_TABLE_NAME, type SeedOptions, createDynamoClients, seedTable, startDynamoDBLocal } from "@ferry/core";
import { Command } from "commander";
import { printJson, progressLine } from "../output.ts";
import { onShutdown, runCleanups, untilSignal } from "../shutdown.ts";
import { describeSeed, withSeedFlags } from "./seed.ts";

/** The seed-000 scenario: ~10 KB workflows, each context shared by ~20 workflows. */
export const DEMO_SEED_OPTIONS: SeedOptions = {
  tenants: 3,
  workflows: 2_000,
  contexts: 2,
  pool: 200,
  tasks: 8,
  itemKb: 10,
  seed: 42,
};

export function demoCommand(): Command {
  const command = new Command("demo").description("Run the end-to-end demo on the embedded DynamoDB Local (what `npm start` runs)");
  withSeedFlags(command, DEMO_SEED_OPTIONS);
  return command
    .option("--table <name>", "table name", DEFAULT_TABLE_NAME)
    .option("--keep", "leave the engine running after the demo, until Ctrl-C")
    .option("--json", "print machine-readable JSON")
    .addHelpText("after", "\nExample:\n  $ npm start\n  $ npm start -- --workflows 500 --keep")
    .action(async (opts: SeedOptions & { table: string; keep?: boolean; json?: boolean }) => {
      const log = (line: string) => !opts.json && process.stdout.write(`${line}\n`);
      log("Starting DynamoDB Local (embedded, in memory)...");
      const engine = await startDynamoDBLocal();
      onShutdown(() => engine.stop());
      log(`  endpoint ${engine.endpoint}`);
      const clients = createDynamoClients({ endpoint: engine.endpoint });
      const { table, keep, json, ...seed } = opts;
      const started = Date.now();
      const result = await seedTable(clients, table, seed, (done, total) => progressLine("seeding", done, total, started));
      clients.raw.destroy();
      if (json) printJson({ endpoint: engine.endpoint, seed: result });
      else log(`\nSeeded the example table:\n${describeSeed(result, engine.endpoint)}`);
      if (keep) {
        log(`\nThe engine keeps running. Try:\n  AWS_ENDPOINT_URL_DYNAMODB=${engine.endpoint} npx ferry seed --tenants 1 --workflows 10\nCtrl-C to stop.`);
        await untilSignal();
      }
      await runCleanups();
    });
}
