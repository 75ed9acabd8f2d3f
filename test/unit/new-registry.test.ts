// `ferry new` in a folder with a registry lists the new file in it, so the Lambdas bundle it.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { registryIsCurrent } from "@ferry/core/definition/registry";
import { describe, expect, it } from "vitest";
import { ferryArgv } from "../support/cli.ts";

const root = join(import.meta.dirname, "../..");

describe("ferry new and the migration registry", () => {
  it("adds the new migration to migrations/index.ts", () => {
    // Arrange: a copy of the repo's migrations folder, registry included.
    const dir = join(mkdtempSync(join(tmpdir(), "ferry-new-")), "migrations");
    cpSync(join(root, "migrations"), dir, { recursive: true });
    expect(registryIsCurrent(dir)).toBe(true);
    // Act
    const out = spawnSync(process.execPath, [...ferryArgv(), "new", "index by status", "--migrations-dir", dir], { encoding: "utf8", cwd: root });
    // Assert
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/listed it in .*index\.ts/);
    expect(readFileSync(join(dir, "index.ts"), "utf8")).toMatch(/"0005_index-by-status"/);
    expect(registryIsCurrent(dir)).toBe(true);
  });
});
