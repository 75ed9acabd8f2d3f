import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import {
  AmbiguousMigrationError,
  InvalidMigrationError,
  MigrationLoadError,
  MigrationNotFoundError,
  UsageError,
  defaultMigrationsDir,
  loadAllMigrations,
  loadMigration,
  loadMigrationFile,
} from "@ferry/core";
import { afterAll, describe, expect, it } from "vitest";

const repo = join(import.meta.dirname, "../..");
const invalidDir = join(import.meta.dirname, "../fixtures/migrations-invalid");
const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** A scratch folder that resolves "@ferry/core" and "zod" like the repository does. */
function scratchDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "ferry-load-"));
  symlinkSync(join(repo, "node_modules"), join(dir, "node_modules"));
  scratch.push(dir);
  return dir;
}

async function loadError(file: string): Promise<UsageError> {
  const error = await loadMigrationFile(file).then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(error instanceof UsageError)) throw new Error(`expected a UsageError from ${file}, got ${String(error)}`);
  return error;
}

describe("loading the example migrations", () => {
  it("loads 0001 by number, by name, by full id and by path, all to the same migration", async () => {
    const byNumber = await loadMigration("0001");
    const byName = await loadMigration("workflow-context-index");
    const byId = await loadMigration("0001_workflow-context-index");
    const byPath = await loadMigration(relative(process.cwd(), join(repo, "migrations/0001_workflow-context-index.ts")));
    expect(byNumber.id).toBe("0001_workflow-context-index");
    for (const other of [byName, byId, byPath]) expect(other.id).toBe(byNumber.id);
    expect(byNumber.readFields).toEqual(["contexts"]);
    expect(byNumber.options.segments).toBe(4);
    expect(byNumber.options.rate).toBe(1_000); // default filled in
  });

  it("loads 0002 with its cleanup and every migration in order", async () => {
    const split = await loadMigration("0002");
    expect(split.cleanup).toEqual({ removeAttributes: ["tasks"] });
    expect(split.options.pageSize).toBe(50);
    const all = await loadAllMigrations();
    expect(all.map((m) => m.id)).toEqual([
      "0001_workflow-context-index",
      "0002_split-workflow-tasks",
      "0003_workflow-status-index",
      "0004_workflows-by-context-table",
    ]);
  });
});

// Each invalid file, the field path its error must name, and what the message must say was expected.
const INVALID: [file: string, field: string, expected: RegExp][] = [
  ["0001_bad-id-format.ts", "id", /expected NNNN_kebab-case-name/],
  ["0002_id-mismatch.ts", "id", /expected "0002_id-mismatch" \(the file name\), got "0002_another-name"/],
  ["0003_missing-description.ts", "description", /expected string, received undefined/],
  ["0004_missing-sk-prefix.ts", "source", /select the source items with at least one of skPrefix, skPattern, pkPrefix, match/],
  ["0005_sk-pattern-not-regexp.ts", "source.skPattern", /expected a RegExp/],
  ["0006_sk-pattern-unanchored.ts", "source.skPattern", /anchor the pattern with \^/],
  ["0007_schema-not-zod-object.ts", "schema", /expected a zod object schema/],
  ["0008_derive-not-function.ts", "derive", /expected a function/],
  [
    "0009_unknown-key.ts",
    "cleanUp",
    /cleanUp: unknown field \(allowed: id, description, table, keys, source, schema, kind, derive, attributes, index, target, cleanup, options, checkItems\)/,
  ],
  ["0010_segments-zero.ts", "options.segments", /expected number to be >=1/],
  ["0011_segments-not-integer.ts", "options.segments", /expected int/],
  [
    "0012_unknown-option.ts",
    "options.concurrency",
    /options.concurrency: unknown field \(allowed: rate, segments, pageSize, maxRecordsPerItem, streamBatchSize, streamMaxRetries, streamMaxRecordAgeSeconds\)/,
  ],
  ["0013_empty-cleanup.ts", "cleanup.removeAttributes", /list at least one attribute/],
  ["0016_missing-table.ts", "table", /expected string, received undefined/],
];

function expectNoStack(error: Error): void {
  expect(error.message).not.toMatch(/\n\s+at /);
  expect(error.message).not.toMatch(/\.ts:\d+:\d+/);
}

describe("an invalid migration file", () => {
  it.each(INVALID)("%s is rejected naming the file, the field %s and what was expected", async (file, field, expected) => {
    const error = await loadError(join(invalidDir, file));
    expect(error).toBeInstanceOf(InvalidMigrationError);
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(`Invalid migration ${file}`);
    expect(error.message).toMatch(new RegExp(`\\n  - ${field.replace(/[.()]/g, "\\$&")}: `));
    expect(error.message).toMatch(expected);
    expect((error as InvalidMigrationError).file).toBe(file);
    expect((error as InvalidMigrationError).issues.map((i) => i.path || "(file)")).toContain(field);
    expect(error.message).toMatch(/ferry new <name>/); // says what to do next
    expectNoStack(error);
  });

  it("without a default export is a MigrationLoadError saying how to export it", async () => {
    const error = await loadError(join(invalidDir, "0014_no-default-export.ts"));
    expect(error).toBeInstanceOf(MigrationLoadError);
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe("Cannot load migration 0014_no-default-export.ts: it must `export default defineMigration({...})`.");
  });

  it("importing a missing module is a MigrationLoadError naming the file and the module", async () => {
    const error = await loadError(join(invalidDir, "0015_import-error.ts"));
    expect(error).toBeInstanceOf(MigrationLoadError);
    expect(error.message).toMatch(/^Cannot load migration 0015_import-error\.ts: .*helpers\/status-key\.ts/);
    expect(error.message.split("\n")).toHaveLength(1);
  });

  it("throwing while imported is a MigrationLoadError with the thrown message only", async () => {
    const error = await loadError(join(invalidDir, "0017_throws-at-import.ts"));
    expect(error).toBeInstanceOf(MigrationLoadError);
    expect(error.message).toBe("Cannot load migration 0017_throws-at-import.ts: FERRY_FIXTURE_PREFIX_THAT_IS_NEVER_SET is not set");
  });

  it("with a syntax error is a MigrationLoadError of one line, without a code frame or stack", async () => {
    const dir = scratchDir();
    const file = join(dir, "0001_syntax-error.ts");
    writeFileSync(
      file,
      'import { defineMigration } from "@ferry/core/definition/define-migration";\nexport default defineMigration({ id: "0001_syntax-error", \n',
    );
    const error = await loadError(file);
    expect(error).toBeInstanceOf(MigrationLoadError);
    expect(error.message).toMatch(/^Cannot load migration 0001_syntax-error\.ts: /);
    expect(error.message.split("\n")).toHaveLength(1);
    expect(error.message).toMatch(/Expected/);
    expectNoStack(error);
  });

  it("loaded by number from its folder is rejected the same way", async () => {
    await expect(loadMigration("0006", invalidDir)).rejects.toThrow(/0006_sk-pattern-unanchored\.ts:\n {2}- source\.skPattern: anchor/);
  });
});

describe("finding a migration", () => {
  it("lists the available ids when nothing matches", async () => {
    const error = await loadMigration("9999").catch((err: unknown) => err);
    expect(error).toBeInstanceOf(MigrationNotFoundError);
    expect((error as MigrationNotFoundError).exitCode).toBe(2);
    expect((error as MigrationNotFoundError).available).toEqual([
      "0001_workflow-context-index",
      "0002_split-workflow-tasks",
      "0003_workflow-status-index",
      "0004_workflows-by-context-table",
    ]);
    expect((error as Error).message).toContain(`No migration matches "9999" in ${defaultMigrationsDir()}`);
    expect((error as Error).message).toContain(
      "Available: 0001_workflow-context-index, 0002_split-workflow-tasks, 0003_workflow-status-index, 0004_workflows-by-context-table.",
    );
  });

  it("says how to create one when the folder is empty", async () => {
    const error = await loadMigration("0001", scratchDir()).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(MigrationNotFoundError);
    expect((error as Error).message).toMatch(/There are none yet: create one with `ferry new <name>`/);
  });

  it("reports a missing path with the files next to it", async () => {
    const error = await loadMigration(join(invalidDir, "0099_nope.ts")).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(MigrationNotFoundError);
    expect((error as MigrationNotFoundError).available).toContain("0006_sk-pattern-unanchored");
  });

  it("refuses an ambiguous reference and names every match", async () => {
    const dir = scratchDir();
    writeFileSync(join(dir, "0001_index-a.ts"), "export default {};\n");
    writeFileSync(join(dir, "0001_index-b.ts"), "export default {};\n");
    const error = await loadMigration("0001", dir).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(AmbiguousMigrationError);
    expect((error as AmbiguousMigrationError).exitCode).toBe(2);
    expect((error as AmbiguousMigrationError).matches).toEqual(["0001_index-a", "0001_index-b"]);
    expect((error as Error).message).toBe('"0001" matches several migrations (0001_index-a, 0001_index-b); use the full id.');
  });
});
