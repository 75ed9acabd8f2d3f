// Where ferry connects and listens, as a user meets it through the real bin: a taken
// `ferry local --port` is refused (not "running" on another engine's answers), the engine
// leaves no metadata file in the working directory, bad endpoints are usage errors naming the
// flag or variable, and refused connections / taken ports print one line saying what to do.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@ferry/core";
import { afterEach, describe, expect, it } from "vitest";
import { REAL_BIN, ferryBin } from "../support/cli.ts";
import { dropTable, endpoint, freshPlainTable, testClients } from "../support/dynamo.ts";

const root = join(import.meta.dirname, "../..");
// `ferry local` through the bin the README documents (tsx at start-up), from another folder too;
// the other commands here run the test run's compiled CLI (ferryBin).
const bin = REAL_BIN;

/** Runs the bin in `cwd`; resolves on exit, or kills it after `killAfterMs` (a command that should have exited). */
function runUntil(args: string[], options: { cwd?: string; killAfterMs: number; until?: RegExp }) {
  const child = spawn(process.execPath, [bin, ...args], { cwd: options.cwd ?? root, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const killer = setTimeout(() => child.kill("SIGKILL"), options.killAfterMs);
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    }),
  );
  const printed = new Promise<string>((resolve) => {
    child.stdout.on("data", () => {
      if (options.until?.test(stdout)) resolve(stdout);
    });
    void exited.then(() => resolve(stdout));
  });
  return { child, exited, printed };
}

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

describe("ferry local", () => {
  it("refuses a --port that is already taken (here by the tests' own engine) with exit 2 and what to do, instead of reporting itself running", async () => {
    const taken = Number(new URL(endpoint()).port);

    const run = await runUntil(["local", "--port", String(taken)], { killAfterMs: 25_000 }).exited;

    expect(run.stdout).not.toMatch(/is running/);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(
      `ferry: Port ${taken} is already in use (another DynamoDB Local or \`ferry local\`?). Pick another --port (--port 0 picks a free one), or stop what listens there.`,
    );
  });

  it("refuses a port any other program listens on, even only on the loopback address", async () => {
    const server = createServer().listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    const port = (server.address() as { port: number }).port;
    try {
      const run = await runUntil(["local", "--port", String(port), "--json"], { killAfterMs: 25_000 }).exited;
      expect(run).toMatchObject({ code: 2, stdout: "", stderr: expect.stringMatching(new RegExp(`Port ${port} is already in use`)) });
    } finally {
      server.close();
    }
  });

  it("runs the engine outside the working directory: no dynamodb-local-metadata.json is written where ferry runs, and none is in the repository", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "ferry-cwd-"));
    try {
      const run = runUntil(["local", "--port", "0", "--json"], { cwd, killAfterMs: 50_000, until: /"endpoint"/ });
      const printed = await run.printed;
      expect(JSON.parse(printed.trim())).toMatchObject({ endpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) });
      // The engine writes its metadata file at start-up; give it a moment.
      await new Promise((r) => setTimeout(r, 1_500));
      expect(readdirSync(cwd)).toEqual([]);
      run.child.kill("SIGINT");
      expect((await run.exited).code).toBe(130);
      expect(readdirSync(cwd)).toEqual([]);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
    expect(existsSync(join(root, "dynamodb-local-metadata.json"))).toBe(false);
    expect(spawnSync("git", ["ls-files", "dynamodb-local-metadata.json"], { cwd: root, encoding: "utf8" }).stdout).toBe("");
    expect(readFileSync(join(root, ".gitignore"), "utf8").split("\n")).toContain("dynamodb-local-metadata.json");
  });
});

describe("bad endpoints", () => {
  it.each([
    ["not-a-url", ""],
    ["127.0.0.1:8123", " \\(did you mean http://127\\.0\\.0\\.1:8123\\?\\)"],
    ["htp://", ""],
    ["ftp://127.0.0.1:8123", ""],
  ])("--endpoint %s is a usage error (exit 2) naming the flag, with or without credentials", async (value, hint) => {
    const expected = new RegExp(
      `^ferry: --endpoint "${value.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}" is not an http:// or https:// URL with a host${hint}; e\\.g\\. http://127\\.0\\.0\\.1:8000 for DynamoDB Local\\.\\n$`,
    );
    delete process.env.AWS_ACCESS_KEY_ID;
    const bare = await ferryBin(["status", "--endpoint", value]);
    process.env.AWS_ACCESS_KEY_ID = "AKIAEXAMPLE";
    process.env.AWS_SECRET_ACCESS_KEY = "secret";
    const withCredentials = await ferryBin(["seed", "--workflows", "1", "--endpoint", value]);
    for (const run of [bare, withCredentials]) expect(run).toMatchObject({ code: 2, stderr: expect.stringMatching(expected) });
  });

  it("a bad AWS_ENDPOINT_URL_DYNAMODB is named as the variable", async () => {
    process.env.AWS_ENDPOINT_URL_DYNAMODB = "ftp://127.0.0.1:8000";
    const run = await ferryBin(["verify", "0001"]);
    expect(run).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/^ferry: AWS_ENDPOINT_URL_DYNAMODB "ftp:\/\/127\.0\.0\.1:8000" is not an http:\/\/ or https:\/\/ URL/),
    });
  });
});

describe("network errors", () => {
  it("a refused connection prints one line naming the address and how to start DynamoDB Local there (exit 1)", async () => {
    const port = await freePort();
    const run = await ferryBin(["status", "--endpoint", `http://127.0.0.1:${port}`]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `ferry: Nothing answers at 127.0.0.1:${port} (connection refused). Start DynamoDB Local there (\`ferry local --port ${port}\`), or point --endpoint / AWS_ENDPOINT_URL_DYNAMODB at the one that runs.\n`,
    );
  });

  it("a taken `ferry serve --port` prints one line saying to pick another port (exit 2)", async () => {
    const server = createServer().listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    const port = (server.address() as { port: number }).port;
    process.env.FERRY_JWT_SECRET = "a-test-secret-of-some-length";
    // serve checks its table before it binds: give it one, so the port is what fails.
    const clients = testClients();
    const tableName = await freshPlainTable(clients, "serve-port");
    try {
      const run = await ferryBin(["serve", "--port", String(port), "--endpoint", endpoint(), "--table", tableName]);
      expect(run).toMatchObject({ code: 2, stdout: "" });
      expect(run.stderr).toBe(
        `ferry: Port ${port} on 127.0.0.1 is already in use. Pick another --port (--port 0 picks a free one), or stop what listens there.\n`,
      );
    } finally {
      server.close();
      await dropTable(clients, tableName);
    }
  });
});
