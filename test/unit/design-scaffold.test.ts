import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_MIGRATION_OPTIONS, loadMigration, loadMigrationFile } from "@ferry/core";
import { checkMigration } from "@ferry/core/design/check";
import { DEFAULT_TABLE_NAME, WORKFLOWS_TABLE } from "@ferry/example-workflows";
import { generatedCheckItems } from "@ferry/example-workflows/check-cases";
import {
  InvalidMigrationNameError,
  MigrationExistsError,
  kebabCase,
  migrationTemplate,
  nextMigrationNumber,
  scaffoldMigration,
} from "@ferry/core/design/scaffold";
import { afterAll, describe, expect, it } from "vitest";

const repo = join(import.meta.dirname, "../..");
/** What `ferry new` without --table writes for: the example's Workflows table. */
const EXAMPLE = { name: DEFAULT_TABLE_NAME, keys: WORKFLOWS_TABLE, example: true };
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** An empty migrations folder that resolves "@ferry/core" and "zod" like the repository. */
function migrationsDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "ferry-new-"));
  symlinkSync(join(repo, "node_modules"), join(dir, "node_modules"));
  dirs.push(dir);
  return dir;
}

describe("naming a new migration", () => {
  it("kebab-cases what the user typed", () => {
    expect(kebabCase("Index workflows by Status!")).toBe("index-workflows-by-status");
    expect(kebabCase("splitWorkflowTasks")).toBe("split-workflow-tasks");
    expect(kebabCase("  --café_crème v2 ")).toBe("cafe-creme-v2");
  });

  it("takes the number after the highest one, gaps and all", () => {
    const dir = migrationsDir();
    expect(nextMigrationNumber(dir)).toBe("0001");
    writeFileSync(join(dir, "0007_something.ts"), "export default {};\n");
    writeFileSync(join(dir, "0003_other.ts"), "export default {};\n");
    expect(nextMigrationNumber(dir)).toBe("0008");
    expect(nextMigrationNumber(join(dir, "missing"))).toBe("0001");
  });

  it("refuses a name with no letters or digits", () => {
    expect(() => scaffoldMigration("!!! ???", migrationsDir(), EXAMPLE)).toThrow(InvalidMigrationNameError);
    expect(() => scaffoldMigration("x".repeat(61), migrationsDir(), EXAMPLE)).toThrow(/at most 60 characters/);
  });
});

describe("ferry new", () => {
  it("writes the next numbered file, which loads and validates as written", async () => {
    const dir = migrationsDir();
    const first = scaffoldMigration("Index workflows by status", dir, EXAMPLE);
    expect(first).toEqual({ id: "0001_index-workflows-by-status", file: join(dir, "0001_index-workflows-by-status.ts") });
    const migration = await loadMigrationFile(first.file);
    expect(migration.id).toBe(first.id);
    expect(migration.readFields).toEqual(["status"]);
    expect(migration.options).toEqual(DEFAULT_MIGRATION_OPTIONS);
    const second = scaffoldMigration("split tasks", dir, EXAMPLE);
    expect(second.id).toBe("0002_split-tasks");
    expect((await loadMigration("split-tasks", dir)).id).toBe("0002_split-tasks");
  });

  it("writes a template whose derive passes ferry check on the generated workflows", async () => {
    const { file } = scaffoldMigration("status index", migrationsDir(), EXAMPLE);
    const report = checkMigration(await loadMigrationFile(file), { generated: [...generatedCheckItems()].map((g) => g.item) });
    expect(report.problemCount).toBe(0);
    expect(report.checked.generated).toBeGreaterThan(100);
    expect(report.records.perItemMax).toBe(1);
  });

  it("refuses to overwrite, and refuses the same name under a new number", () => {
    const dir = migrationsDir();
    const { file } = scaffoldMigration("status index", dir, EXAMPLE);
    writeFileSync(file, "// edited by hand\n", { flag: "a" });
    const before = readFileSync(file, "utf8");
    const error = (() => {
      try {
        scaffoldMigration("Status Index", dir, EXAMPLE);
      } catch (err) {
        return err;
      }
    })();
    expect(error).toBeInstanceOf(MigrationExistsError);
    expect((error as MigrationExistsError).exitCode).toBe(2);
    expect((error as Error).message).toBe(`Migration 0001_status-index already exists (${file}); edit it, or pick another name.`);
    expect(readFileSync(file, "utf8")).toBe(before);
    expect(existsSync(join(dir, "0002_status-index.ts"))).toBe(false);
  });

  it("teaches the format in its comments: source, schema, derive's rules, cleanup, every option's default", () => {
    const text = migrationTemplate("0003_example", EXAMPLE);
    expect(text).toContain('import { defineMigration } from "@ferry/core";');
    expect(text).toContain('import { z } from "zod";');
    expect(text).toMatch(/source: \{ skPrefix: "WF#", skPattern: \/\^WF#\[\^#\]\+\$\/ \}/);
    expect(text).toMatch(/ONLY the fields derive reads/);
    expect(text).toMatch(/backfill writes an item's records on the condition/);
    expect(text).toMatch(/Pure and deterministic/);
    expect(text).toMatch(/no two items may derive the\s+\/\/\s+same key/);
    expect(text).toMatch(/\/\/ cleanup: \{ removeAttributes: \["status"\] \}/);
    for (const [option, value] of Object.entries(DEFAULT_MIGRATION_OPTIONS)) {
      expect(text).toMatch(new RegExp(`// ${option}: ${value},\\s+\\S`));
    }
  });
});
