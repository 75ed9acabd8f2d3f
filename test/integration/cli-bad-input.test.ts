// Issue 14 items 10 and 11: bad input gets one clear line and the right exit code, never a
// crash; one bad migration file does not hide the others; plan does not estimate from nothing.
// Through the real CLI.
import { join } from "node:path";
import { batchPutAll } from "@ferry/core";
import { generateWorkflows } from "@ferry/example-workflows";
import { describe, expect, it } from "vitest";
import { ferryBin } from "../support/cli.ts";
import { endpoint, freshPlainTable, testClients } from "../support/dynamo.ts";

const fixtures = join(import.meta.dirname, "../fixtures");
const clients = testClients();

describe("bad input is a message, not a crash", () => {
  it("an invalid table name is a usage error (exit 2) before any DynamoDB call", async () => {
    const out = await ferryBin(["check", "0001", "--table", "no such table!", "--endpoint", endpoint()]);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/"no such table!" is not a DynamoDB table name: use 3 to 255 letters, digits, _ - or \./);
    expect(out.stderr).not.toMatch(/ValidationException/);
  });

  it("a 120 KB --actor or --reason is refused (exit 2) instead of growing the state record", async () => {
    const table = await freshPlainTable(clients, "big");
    const huge = "x".repeat(120 * 1024);
    const [actor, reason] = await Promise.all([
      ferryBin(["add", "0001", "--table", table, "--endpoint", endpoint(), "--actor", huge]),
      ferryBin(["convert", "0001", "--table", table, "--endpoint", endpoint(), "--force", "--reason", huge]),
    ]);
    expect(actor.code).toBe(2);
    expect(actor.stderr).toMatch(/--actor.*at most 200 characters \(got 122880\)/);
    expect(reason.code).toBe(2);
    expect(reason.stderr).toMatch(/--reason.*at most 2000 characters \(got 122880\)/);
  });

  it("a default export that is a plain object is a usage error naming the file", async () => {
    const out = await ferryBin(["check", "0001", "--migrations-dir", join(fixtures, "migrations-plain"), "--sample", "0"]);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(
      /Invalid migration 0001_plain-object\.ts:\n\s+- \(default export\): a plain object: export default defineMigration\(\{\.\.\.\}\)/,
    );
    expect(out.stderr).not.toMatch(/TypeError|maxRecordsPerItem/);
  });

  it("status shows every loadable migration, the invalid one as an error row, and names a misnamed file", async () => {
    const table = await freshPlainTable(clients, "st");
    const out = await ferryBin(["status", "--table", table, "--endpoint", endpoint(), "--migrations-dir", join(fixtures, "migrations-status")]);
    expect(out.code).toBe(2);
    expect(out.stdout).toMatch(/^0001_context-index\s+records\s+not added/m);
    expect(out.stdout).toMatch(/^0002_broken\s+invalid file\s.*description/m);
    expect(out.stderr).toMatch(/Warning: skipped 3_misnamed\.ts in .*: its name does not match NNNN_kebab-name\.ts/);
    expect(out.stderr).toMatch(/1 migration file\(s\) cannot be loaded: 0002_broken/);
  });

  it("plan exits 1 naming the failures when every sampled item fails to derive, instead of a $0 estimate", async () => {
    const table = await freshPlainTable(clients, "pl");
    await batchPutAll(clients.doc, table, [...generateWorkflows({ tenants: 1, workflows: 5, contexts: 1, pool: 2, tasks: 0, itemKb: 1, seed: 3 })]);
    const out = await ferryBin(["plan", "0046", "--table", table, "--endpoint", endpoint(), "--migrations-dir", join(fixtures, "migrations-collide")]);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/Cannot plan 0046_always-throws: all 5 sampled source item\(s\) failed to derive.*not implemented yet/);
    expect(out.stdout).not.toMatch(/\$0/);
  });
});
