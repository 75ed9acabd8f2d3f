import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { ferryArgv } from "../support/cli.ts";
import { endpoint, scanAll, testClients, uniqueTableName } from "../support/dynamo.ts";

const run = (...args: string[]) =>
  spawnSync(process.execPath, [...ferryArgv(), ...args], { encoding: "utf8", env: { ...process.env, AWS_ENDPOINT_URL_DYNAMODB: "" } });

describe("ferry seed", () => {
  it("seeds a table through --endpoint and reports what it did as JSON", () => {
    const table = uniqueTableName("cli");
    const out = run("seed", "--endpoint", endpoint(), "--table", table, "--tenants", "2", "--workflows", "40", "--item-kb", "2", "--json");
    expect(out.status, out.stderr).toBe(0);
    const result = JSON.parse(out.stdout);
    expect(result).toMatchObject({ tableName: table, tableCreated: true, written: 80 });
    return scanAll(testClients(), table).then((items) => expect(items).toHaveLength(80));
  });

  it("reads the endpoint from AWS_ENDPOINT_URL_DYNAMODB", () => {
    const table = uniqueTableName("cli");
    const out = spawnSync(process.execPath, [...ferryArgv(), "seed", "--table", table, "--workflows", "5", "--tenants", "1", "--json"], {
      encoding: "utf8",
      env: { ...process.env, AWS_ENDPOINT_URL_DYNAMODB: endpoint() },
    });
    expect(out.status, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout).written).toBe(5);
  });

  it("rejects a bad value with exit code 2, naming the flag, and writes nothing", () => {
    const out = run("seed", "--endpoint", endpoint(), "--item-kb", "500");
    expect(out.status).toBe(2);
    expect(out.stderr).toMatch(/--item-kb.*expected a number from 1 to 350, got "500"/);
    expect(out.stderr).not.toMatch(/at .*\.ts:\d+/); // no stack trace
  });

  it("rejects inconsistent options with exit code 2 and a list of problems", () => {
    const out = run("seed", "--endpoint", endpoint(), "--contexts", "5", "--pool", "2");
    expect(out.status).toBe(2);
    expect(out.stderr).toMatch(/contexts \(5\) cannot exceed pool \(2\)/);
  });

  it("shows an example in --help", () => {
    const out = run("seed", "--help");
    expect(out.status).toBe(0);
    expect(out.stdout).toMatch(/Example/);
    expect(out.stdout).toMatch(/--item-kb/);
  });
});
