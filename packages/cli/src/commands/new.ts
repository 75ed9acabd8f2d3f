/** `ferry new <name>`: writes the next numbered migration file from the commented template. */
import { defaultMigrationsDir } from "@ferry/core";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { REGISTRY_FILE, writeMigrationRegistry } from "@ferry/core/definition/registry";
import { scaffoldMigration } from "@ferry/core/design/scaffold";
import { Command } from "commander";
import { printJson } from "../output.ts";

export function newCommand(): Command {
  return new Command("new")
    .description("Create the next numbered migration file from a template that explains the format")
    .argument("<name>", 'what the migration does, e.g. "index workflows by status" (kebab-cased into the file name)')
    .option("--migrations-dir <dir>", "folder of migration files (default: FERRY_MIGRATIONS_DIR or ./migrations)")
    .option("--json", "print machine-readable JSON")
    .addHelpText(
      "after",
      `
Example: creates migrations/0003_index-workflows-by-status.ts (after 0001 and 0002)
  $ npx ferry new "index workflows by status"`,
    )
    .action((name: string, opts: { migrationsDir?: string; json?: boolean }) => {
      const folder = opts.migrationsDir ?? defaultMigrationsDir();
      const result = scaffoldMigration(name, folder);
      // A folder with a registry (the deployed one) must list the new file, or the Lambdas would not bundle it.
      const registryUpdated = existsSync(join(folder, REGISTRY_FILE)) && writeMigrationRegistry(folder);
      if (opts.json) return printJson({ ...result, ...(registryUpdated ? { registryUpdated } : {}) });
      const dir = opts.migrationsDir ? ` --migrations-dir ${opts.migrationsDir}` : "";
      process.stdout.write(
        `Created ${result.file}${registryUpdated ? ` and listed it in ${join(folder, REGISTRY_FILE)}` : ""}\n\nNext: fill in the TODOs, then\n  $ npx ferry check ${result.id}${dir}\n  $ npx ferry plan ${result.id}${dir}\n`,
      );
    });
}
