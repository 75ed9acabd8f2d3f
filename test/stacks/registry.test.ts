// The migration registry the Lambda bundles use: generated from migrations/, never stale.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { AmbiguousMigrationError, MigrationNotFoundError, listMigrationIds, loadMigrationFrom, migrationFromRegistry } from "@ferry/core/definition/load";
import { describe, expect, it } from "vitest";
import { MIGRATIONS } from "../../migrations/index.ts";
import { registryIsCurrent, renderMigrationRegistry, writeMigrationRegistry } from "../../scripts/migration-registry.ts";

const MIGRATIONS_DIR = resolve(import.meta.dirname, "../../migrations");

describe("migration registry (migrations/index.ts)", () => {
  it("is exactly what the generator writes for the migration files (run `npm run migrations:registry` if not)", () => {
    expect(registryIsCurrent(MIGRATIONS_DIR)).toBe(true);
    expect(Object.keys(MIGRATIONS).sort()).toEqual(listMigrationIds(MIGRATIONS_DIR));
  });

  it("goes stale when a migration file is added, and the generator brings it back", () => {
    const dir = mkdtempSync(join(tmpdir(), "ferry-registry-"));
    writeFileSync(join(dir, "0001_a.ts"), "export default {};\n");
    expect(writeMigrationRegistry(dir)).toBe(true);
    expect(registryIsCurrent(dir)).toBe(true);

    writeFileSync(join(dir, "0002_b-c.ts"), "export default {};\n");

    expect(registryIsCurrent(dir)).toBe(false);
    expect(writeMigrationRegistry(dir)).toBe(true);
    expect(renderMigrationRegistry(listMigrationIds(dir))).toContain('import m0002_b_c from "./0002_b-c.ts";');
    expect(writeMigrationRegistry(dir)).toBe(false);
  });

  it("resolves the same references as the file loader", async () => {
    expect(migrationFromRegistry("0001", MIGRATIONS).id).toBe("0001_workflow-context-index");
    expect(migrationFromRegistry("split-workflow-tasks", MIGRATIONS).id).toBe("0002_split-workflow-tasks");
    expect(() => migrationFromRegistry("0009", MIGRATIONS)).toThrow(MigrationNotFoundError);
    expect(() => migrationFromRegistry("0009", MIGRATIONS)).toThrow(/bundled registry.*Available: 0001_workflow-context-index, 0002_split-workflow-tasks/);
    const twins = {
      "0003_a": { ...MIGRATIONS["0001_workflow-context-index"]!, id: "0003_a" },
      "0003_b": { ...MIGRATIONS["0001_workflow-context-index"]!, id: "0003_b" },
    };
    expect(() => migrationFromRegistry("0003", twins)).toThrow(AmbiguousMigrationError);
  });

  it("is what the handlers load unless FERRY_MIGRATIONS_DIR points at files", async () => {
    expect(await loadMigrationFrom("0001", MIGRATIONS, {})).toBe(MIGRATIONS["0001_workflow-context-index"]);
    const fromFiles = await loadMigrationFrom("0001", {}, { FERRY_MIGRATIONS_DIR: MIGRATIONS_DIR });
    expect(fromFiles.id).toBe("0001_workflow-context-index");
  });
});
