import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { DynamoDBLocalNotInstalledError, JavaMissingError, createDynamoClients, ensureTable, startDynamoDBLocal } from "@ferry/core";
import { WORKFLOWS_TABLE } from "@ferry/example-workflows";
import { describe, expect, it } from "vitest";
import { REAL_BIN, childArgv } from "../support/cli.ts";

const root = join(import.meta.dirname, "../..");

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pid: number, withinMs = 10_000): Promise<boolean> {
  const until = Date.now() + withinMs;
  while (Date.now() < until) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !alive(pid);
}

/** Runs a command that starts an engine, waits for the first JSON line it prints. */
function startChild(args: string[]) {
  const child = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c) => (stderr += c));
  const info = new Promise<{ javaPid: number; endpoint: string; stdout: string }>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const json = /\{.*"javaPid".*\}/.exec(out);
      if (json) resolve({ ...JSON.parse(json[0]), stdout: out });
      const printed = /^\{"endpoint":.*\}$/m.exec(out);
      if (printed) resolve({ javaPid: -1, ...JSON.parse(printed[0]), stdout: out });
      const endpoint = /endpoint: (http:\/\/\S+)/.exec(out);
      if (endpoint) resolve({ javaPid: -1, endpoint: endpoint[1]!, stdout: out });
    });
    child.once("exit", (code) => reject(new Error(`child exited ${code}: ${stderr}`)));
  });
  const exited = new Promise<number | null>((r) => child.once("exit", (code, signal) => r(code ?? (signal ? -1 : null))));
  return { child, info, exited, stderr: () => stderr };
}

const tsxChild = (mode: string) => [...childArgv("engine-child"), mode];

describe("embedded DynamoDB Local", () => {
  it("starts on a free port, answers, and stops leaving no java process", async () => {
    const engine = await startDynamoDBLocal();
    expect(engine.javaPid).toBeGreaterThan(0);
    const { raw } = createDynamoClients({ endpoint: engine.endpoint });
    await expect(raw.send(new ListTablesCommand({}))).resolves.toBeDefined();
    raw.destroy();
    await engine.stop();
    expect(await gone(engine.javaPid!)).toBe(true);
    await engine.stop(); // twice is harmless
  });

  it("keeps data on disk with a db path, across restarts", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ferry-ddb-"));
    try {
      const first = await startDynamoDBLocal({ dbPath: dir });
      const a = createDynamoClients({ endpoint: first.endpoint });
      await ensureTable(a.raw, WORKFLOWS_TABLE, "Persisted");
      a.raw.destroy();
      await first.stop();
      const second = await startDynamoDBLocal({ dbPath: dir });
      const b = createDynamoClients({ endpoint: second.endpoint });
      const tables = await b.raw.send(new ListTablesCommand({}));
      b.raw.destroy();
      await second.stop();
      expect(tables.TableNames).toContain("Persisted");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(["throw", "exit"])("leaves no java process when its owner ends by %s", async (mode) => {
    const run = startChild(tsxChild(mode));
    const { javaPid } = await run.info;
    expect(javaPid).toBeGreaterThan(0);
    await run.exited;
    expect(await gone(javaPid)).toBe(true);
  });

  it("leaves no java process when its owner is killed with SIGKILL", async () => {
    const run = startChild(tsxChild("hang"));
    const { javaPid } = await run.info;
    expect(alive(javaPid)).toBe(true);
    run.child.kill("SIGKILL");
    await run.exited;
    expect(await gone(javaPid)).toBe(true);
  });

  it("`ferry local --json` prints its endpoint as JSON, stops the engine on Ctrl-C (SIGINT) and exits 130", async () => {
    const run = startChild([REAL_BIN, "local", "--port", "0", "--json"]);
    const { endpoint, stdout } = await run.info;
    expect(JSON.parse(stdout.trim())).toEqual({ endpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), inMemory: true });
    const { raw } = createDynamoClients({ endpoint, config: { maxAttempts: 1 } });
    await expect(raw.send(new ListTablesCommand({}))).resolves.toBeDefined();
    run.child.kill("SIGINT");
    expect(await run.exited).toBe(130);
    await expect(raw.send(new ListTablesCommand({}))).rejects.toThrow();
    raw.destroy();
  });

  it("fails with a clear message naming the fix when Java is missing", async () => {
    const start = startDynamoDBLocal({ javaPath: "/nonexistent/bin/java" });
    await expect(start).rejects.toBeInstanceOf(JavaMissingError);
    await expect(start).rejects.toThrow(/Java 17.*apt-get install openjdk-17-jre-headless.*--endpoint/s);
  });

  it("says how to install the engine when the jar is missing", async () => {
    await expect(startDynamoDBLocal({ installDir: "/nonexistent" })).rejects.toBeInstanceOf(DynamoDBLocalNotInstalledError);
  });
});
