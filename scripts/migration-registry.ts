/**
 * Generates migrations/index.ts, the migration registry the Lambda handlers are bundled with.
 *
 * Why a generated module of static imports: SST v2 bundles every Function with esbuild from
 * its handler file. esbuild follows static imports (and string-literal dynamic imports) only,
 * so the local loader's `import(<path of a .ts file>)` finds nothing on Lambda. SST's
 * `copyFiles` would copy the raw .ts files, which Lambda's Node runtime cannot import (no
 * TypeScript loader there, and their own imports, `@ferry/core/...` and zod, would not
 * resolve beside them); `nodejs.install` only installs npm packages. A module that
 * statically imports every migration is bundled with all it needs, and `sst dev` rebuilds
 * the function when a migration file changes (it watches the bundle's inputs).
 *
 *   npm run migrations:registry           # rewrite migrations/index.ts from the folder
 *   npm run migrations:registry -- --check  # exit 1 when it is out of date (CI)
 *
 * The stack synth (stacks/migrations.ts) and test/stacks/registry.test.ts fail while the
 * registry differs from the folder, so a new migration file cannot be forgotten.
 */
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { REGISTRY_FILE, registryIsCurrent, writeMigrationRegistry } from "../packages/core/src/definition/registry.ts";

export { REGISTRY_FILE, registryIsCurrent, renderMigrationRegistry, writeMigrationRegistry } from "../packages/core/src/definition/registry.ts";

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = resolve(fileURLToPath(import.meta.url), "../../migrations");
  if (process.argv.includes("--check")) {
    if (!registryIsCurrent(dir)) {
      console.error(`${join(dir, REGISTRY_FILE)} is out of date with the migration files: run \`npm run migrations:registry\` and commit it.`);
      process.exit(1);
    }
    console.log("migrations/index.ts is up to date.");
  } else {
    console.log(writeMigrationRegistry(dir) ? "Wrote migrations/index.ts." : "migrations/index.ts was already up to date.");
  }
}
