/**
 * Migration discovery for the stacks: the ids are the file names in `migrations/`, the
 * definitions come from the generated registry (migrations/index.ts) the Lambda bundles
 * carry. Adding a migration file (and running `npm run migrations:registry`, which
 * `npm run sst` does first) adds its consumer and DLQ with no edit to any stack; a
 * registry that lags the folder stops the synth instead of deploying a handler that
 * cannot find its migration.
 */
import { join } from "node:path";
import { FerryError } from "@ferry/core";
import type { Migration } from "@ferry/core/definition/define-migration";
import { type MigrationRegistry, listMigrationIds, migrationFromRegistry } from "@ferry/core/definition/load";
import { useProject } from "sst/project.js";
import { MIGRATIONS } from "../migrations/index.ts";

/** The registry does not list exactly the migration files of the folder. */
export class MigrationRegistryOutOfDateError extends FerryError {
  constructor(
    readonly dir: string,
    readonly files: string[],
    readonly registered: string[],
  ) {
    super(
      `migrations/index.ts lists [${registered.join(", ")}] but ${dir} holds [${files.join(", ")}]. ` +
        "Run `npm run migrations:registry` (npm run sst does it for you) and commit migrations/index.ts.",
    );
  }
}

/** The project's migrations folder (SST's project root, wherever the config bundle runs from). */
export function projectMigrationsDir(): string {
  return join(useProject().paths.root, "migrations");
}

/** Every migration of the folder, in id order, as the bundled handlers will load them. */
export function discoverMigrations(dir = projectMigrationsDir(), registry: MigrationRegistry = MIGRATIONS): Migration[] {
  const files = listMigrationIds(dir);
  const registered = Object.keys(registry).sort();
  if (files.join("\n") !== registered.join("\n")) throw new MigrationRegistryOutOfDateError(dir, files, registered);
  return files.map((id) => migrationFromRegistry(id, registry));
}

/** "0001_workflow-context-index" -> "0001WorkflowContextIndex": construct ids and output names. */
export function migrationSuffix(id: string): string {
  return id
    .split(/[_-]/)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join("");
}
