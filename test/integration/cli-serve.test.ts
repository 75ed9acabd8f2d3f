// `ferry serve` and `ferry token` as a developer runs them: a real process, a real token, curl-like requests.
import { spawn, spawnSync } from "node:child_process";
import { createInterface } from "node:readline";
import { contextId, tenantId } from "@ferry/example-workflows";
import { describe, expect, it } from "vitest";
import { convertedTable, expectedByContext } from "../support/api.ts";
import { ferryArgv } from "../support/cli.ts";
import { endpoint } from "../support/dynamo.ts";

const SECRET = "cli-test-secret-0123456789";
const env = { ...process.env, AWS_ENDPOINT_URL_DYNAMODB: "", FERRY_JWT_SECRET: SECRET };

describe("ferry serve + ferry token", () => {
  it("serves v1 and v2 to a token from `ferry token`, and stops cleanly on SIGINT", async () => {
    // Arrange
    const t = await convertedTable({ tenants: 1, workflows: 40, contexts: 2, pool: 4, tasks: 1, itemKb: 1, seed: 9 });
    const child = spawn(process.execPath, [...ferryArgv(), "serve", "--endpoint", endpoint(), "--table", t.table, "--port", "0", "--json"], { env });
    const first = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once("line", resolve);
      child.once("exit", (code) => reject(new Error(`serve exited ${code}`)));
    });
    const { url } = JSON.parse(first) as { url: string };
    const token = spawnSync(process.execPath, [...ferryArgv(), "token", "--tenant", tenantId(0)], { env, encoding: "utf8" });
    expect(token.status, token.stderr).toBe(0);

    // Act
    const ctx = contextId(2);
    const answers = await Promise.all(
      ["v1", "v2"].map(async (v) => {
        const res = await fetch(`${url}/${v}/workflows?context=${ctx}&limit=100`, { headers: { authorization: `Bearer ${token.stdout.trim()}` } });
        return (await res.json()) as { items: { id: string }[] };
      }),
    );
    child.kill("SIGINT");
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));

    // Assert
    const expected = expectedByContext(t.workflows, tenantId(0), ctx);
    expect(answers.map((a) => a.items.map((i) => i.id))).toEqual([expected, expected]);
    expect(code).toBe(130);
  }, 60_000);

  it("ferry token refuses a tenant the server would reject (exit 2) instead of issuing the token", () => {
    for (const tenant of ["", "t".repeat(257)]) {
      const out = spawnSync(process.execPath, [...ferryArgv(), "token", "--tenant", tenant], { env, encoding: "utf8" });
      expect(out.status, tenant.slice(0, 5)).toBe(2);
      expect(out.stdout).toBe("");
      expect(out.stderr).toMatch(/--tenant is (empty|longer than 256 characters); pass the tenant id/);
    }
  });

  it("ferry serve refuses to start on a missing table (exit 2), naming it and how to create it", async () => {
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [...ferryArgv(), "serve", "--endpoint", endpoint(), "--table", "NoSuchTable-serve", "--port", "0"], { env });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      const timer = setTimeout(() => child.kill("SIGINT"), 20_000);
      child.once("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
    expect(out.code).toBe(2);
    expect(out.stdout).not.toMatch(/listening/);
    expect(out.stderr).toMatch(/Table NoSuchTable-serve does not exist.*ferry seed/);
  }, 30_000);

  it("refuses to start without FERRY_JWT_SECRET, saying how to set it (exit 2)", () => {
    const out = spawnSync(process.execPath, [...ferryArgv(), "token", "--tenant", "x"], { env: { ...env, FERRY_JWT_SECRET: "" }, encoding: "utf8" });
    expect(out.status).toBe(2);
    expect(out.stderr).toMatch(/FERRY_JWT_SECRET must hold/);
    expect(out.stderr).not.toMatch(/at .*\.ts:\d+/);
  });
});
