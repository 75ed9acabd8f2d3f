/** `ferry new <name>`: writes the next numbered migration file from the commented template (with --table, in that table's key names and types). */
import { createDynamoClients, defaultMigrationsDir } from "@ferry/core";
import { readKeySchema } from "@ferry/core/dynamo/key-schema";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { REGISTRY_FILE, writeMigrationRegistry } from "@ferry/core/definition/registry";
import { type ScaffoldTable, scaffoldMigration } from "@ferry/core/design/scaffold";
import { DEFAULT_TABLE_NAME, WORKFLOWS_TABLE } from "@ferry/example-workflows";
import { Command, Option } from "commander";
import { tableNameFlag } from "../options.ts";
import { printJson } from "../output.ts";

export function newCommand(): Command {
  return new Command("new")
    .description("Create the next numbered migration file from a template that explains the format")
    .argument("<name>", 'what the migration does, e.g. "index workflows by status" (kebab-cased into the file name)')
    .option("--migrations-dir <dir>", "folder of migration files (default: FERRY_MIGRATIONS_DIR or ./migrations)")
    .addOption(
      new Option("--table <name>", "write it for this table: its key names and types (DescribeTable) go into `keys` and the example derive").argParser(
        tableNameFlag,
      ),
    )
    .addOption(new Option("--endpoint <url>", "DynamoDB endpoint of --table (default: AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL, else AWS)"))
    .addOption(new Option("--region <region>", "AWS region of --table (default: AWS_REGION or us-east-1)"))
    .option("--json", "print machine-readable JSON")
    .addHelpText(
      "after",
      `
Example: creates migrations/0003_index-workflows-by-status.ts (after 0001 and 0002)
  $ npx ferry new "index workflows by status"
Example: a migration for the table Orders, in its own key names and types
  $ npx ferry new "orders by status" --table Orders --endpoint http://127.0.0.1:8000`,
    )
    .action(async (name: string, opts: { migrationsDir?: string; json?: boolean; table?: string; endpoint?: string; region?: string }) => {
      const folder = opts.migrationsDir ?? defaultMigrationsDir();
      // Without --table: the example's Workflows table, as the template always was.
      const table = opts.table ? await tableKeys(opts.table, opts) : { name: DEFAULT_TABLE_NAME, keys: WORKFLOWS_TABLE, example: true };
      const result = scaffoldMigration(name, folder, table);
      // A folder with a registry (the deployed one) must list the new file, or the Lambdas would not bundle it.
      const registryUpdated = existsSync(join(folder, REGISTRY_FILE)) && writeMigrationRegistry(folder);
      if (opts.json) return printJson({ ...result, ...(registryUpdated ? { registryUpdated } : {}) });
      const dir = opts.migrationsDir ? ` --migrations-dir ${opts.migrationsDir}` : "";
      process.stdout.write(
        `Created ${result.file}${registryUpdated ? ` and listed it in ${join(folder, REGISTRY_FILE)}` : ""}\n\nNext: fill in the TODOs, then\n  $ npx ferry check ${result.id}${dir}\n  $ npx ferry plan ${result.id}${dir}\n`,
      );
    });
}

/** The table's name and key schema, read before anything is written (a missing table is TableNotFoundError, exit 2). */
async function tableKeys(name: string, opts: { endpoint?: string; region?: string }): Promise<ScaffoldTable> {
  const clients = createDynamoClients({ endpoint: opts.endpoint, region: opts.region });
  try {
    return { name, keys: await readKeySchema(clients.raw, name) };
  } finally {
    clients.raw.destroy();
  }
}
