// Stage configuration the stacks read at synth time: the JWT issuer/audience and the
// migrations folder, with the errors a deployer sees when either is wrong.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MIGRATIONS } from "../../migrations/index.ts";
import { DEFAULT_JWT_AUDIENCE, DEV_JWT_ISSUER, MissingJwtIssuerError, jwtConfig } from "../../stacks/Api.ts";
import { MigrationRegistryOutOfDateError, discoverMigrations, migrationSuffix } from "../../stacks/migrations.ts";

describe("jwtConfig", () => {
  it("takes the issuer and audience from FERRY_JWT_ISSUER / FERRY_JWT_AUDIENCE", () => {
    expect(jwtConfig("prod", { FERRY_JWT_ISSUER: "https://id.example.com/", FERRY_JWT_AUDIENCE: "svc" })).toEqual({
      issuer: "https://id.example.com/",
      audience: "svc",
    });
    expect(jwtConfig("prod", { FERRY_JWT_ISSUER: "https://id.example.com/" }).audience).toBe(DEFAULT_JWT_AUDIENCE);
  });

  it("gives dev stages a placeholder issuer that accepts no token", () => {
    expect(jwtConfig("dev-alice", {})).toEqual({ issuer: DEV_JWT_ISSUER, audience: DEFAULT_JWT_AUDIENCE });
    expect(new URL(DEV_JWT_ISSUER).hostname.endsWith(".invalid")).toBe(true);
  });

  it("refuses a non-dev stage without an issuer, saying where to set it", () => {
    expect(() => jwtConfig("prod", {})).toThrow(MissingJwtIssuerError);
    expect(() => jwtConfig("prod", {})).toThrow(/FERRY_JWT_ISSUER.*\.env\.prod/);
  });
});

describe("discoverMigrations", () => {
  const folder = (...files: string[]) => {
    const dir = mkdtempSync(join(tmpdir(), "ferry-discover-"));
    for (const f of files) writeFileSync(join(dir, f), "export default {};\n");
    return dir;
  };

  it("returns the registry's migrations for the folder's files, in id order", () => {
    const ids = ["0001_workflow-context-index", "0002_split-workflow-tasks", "0003_workflow-status-index", "0004_workflows-by-context-table"];
    const dir = folder(...[...ids].reverse().map((id) => `${id}.ts`), "index.ts");
    expect(discoverMigrations(dir, MIGRATIONS).map((m) => m.id)).toEqual(ids);
  });

  it("stops the synth when a file was added but the registry not regenerated", () => {
    const dir = folder("0001_workflow-context-index.ts", "0002_split-workflow-tasks.ts", "0003_new-index.ts");
    expect(() => discoverMigrations(dir, MIGRATIONS)).toThrow(MigrationRegistryOutOfDateError);
    expect(() => discoverMigrations(dir, MIGRATIONS)).toThrow(/npm run migrations:registry/);
  });

  it("names constructs and outputs after the migration", () => {
    expect(migrationSuffix("0001_workflow-context-index")).toBe("0001WorkflowContextIndex");
  });
});
