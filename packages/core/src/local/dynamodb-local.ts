/**
 * Starts and stops the real DynamoDB Local engine (the jar installed at `npm ci` from the
 * npm package amplify-dynamodb-simulator): on a free or given port, in memory or on disk,
 * with a bounded heap, waiting until it answers and never leaving a java process behind.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { createDynamoClients } from "../aws/dynamodb.ts";
import { FerryError, UsageError } from "../errors.ts";
import { sleep } from "../util/backoff.ts";
import { checkJava, resolveJava } from "./java.ts";

export interface DynamoDBLocalOptions {
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Directory for an on-disk database; undefined keeps everything in memory. */
  dbPath?: string;
  /** JVM max heap (`-Xmx`); bounded because the default heap grew to 2.9 GB on a 100k-item scan. */
  heap: string;
  /** Java executable; defaults to $JAVA_HOME/bin/java or `java`. */
  javaPath?: string;
  /** Folder holding DynamoDBLocal.jar and DynamoDBLocal_lib. */
  installDir?: string;
  /** How long to wait for the engine to answer ListTables. */
  startTimeoutMs: number;
  /** Forward the engine's own output to this process's stderr. */
  verbose: boolean;
  /** One database for every access key and region (`-sharedDb`). */
  sharedDb: boolean;
}

export const DEFAULT_DYNAMODB_LOCAL_OPTIONS: DynamoDBLocalOptions = {
  port: 0,
  heap: "1g",
  startTimeoutMs: 60_000,
  verbose: false,
  sharedDb: true,
};

/** A running engine. */
export interface DynamoDBLocal {
  endpoint: string;
  port: number;
  /** PID of the java process. */
  javaPid: number | undefined;
  /** Resolves when the engine has exited (for any reason). */
  exited: Promise<void>;
  /** Stops the engine and waits until its process is gone. Safe to call twice. */
  stop(): Promise<void>;
}

export class DynamoDBLocalNotInstalledError extends FerryError {
  constructor(readonly installDir: string) {
    super(
      `DynamoDB Local is not installed in ${installDir}. It is fetched from the npm registry by \`npm ci\`; ` +
        "run `node packages/core/scripts/install-dynamodb-local.mjs` (or `npm rebuild`), or use --endpoint to reach another DynamoDB.",
    );
  }
}

export class DynamoDBLocalStartError extends FerryError {
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(`${message}${output ? `\nEngine output:\n${output}` : ""}`);
  }
}

/** The port asked for is taken (another engine, a second `ferry local`, anything else listening there). */
export class PortInUseError extends UsageError {
  constructor(
    readonly port: number,
    readonly flag = "--port",
  ) {
    super(
      `Port ${port} is already in use (another DynamoDB Local or \`ferry local\`?). ` +
        `Pick another ${flag} (${flag} 0 picks a free one), or stop what listens there.`,
    );
  }
}

const here = dirname(fileURLToPath(import.meta.url));

/** True when nothing listens on `port` of `host` (undefined: every interface, as the engine binds). */
function portFree(port: number, host?: string): Promise<boolean> {
  return new Promise((resolveFree, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", (err: NodeJS.ErrnoException) => (err.code === "EADDRINUSE" ? resolveFree(false) : reject(err)));
    server.listen({ port, ...(host ? { host } : {}), exclusive: true }, () => server.close(() => resolveFree(true)));
  });
}

/** Throws PortInUseError when `port` is taken on the interfaces the engine binds (all) or the loopback clients use. */
export async function assertPortFree(port: number, flag = "--port"): Promise<void> {
  for (const host of [undefined, "127.0.0.1"]) {
    if (!(await portFree(port, host))) throw new PortInUseError(port, flag);
  }
}

/** What the engine prints when its port is taken (it then hangs instead of exiting). */
const BIND_FAILED = /Failed to bind|Address already in use/i;

/** Where `npm ci` put the engine (or FERRY_DYNAMODB_LOCAL_DIR). */
export function defaultInstallDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FERRY_DYNAMODB_LOCAL_DIR) return env.FERRY_DYNAMODB_LOCAL_DIR;
  let dir = here;
  for (;;) {
    const candidate = join(dir, "node_modules", ".ferry", "dynamodb-local");
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return resolve(here, "../../../../node_modules/.ferry/dynamodb-local");
    dir = parent;
  }
}

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolvePort(address.port) : reject(new Error("no port"))));
    });
  });
}

/** Starts DynamoDB Local and resolves once it answers requests. */
export async function startDynamoDBLocal(options: Partial<DynamoDBLocalOptions> = {}): Promise<DynamoDBLocal> {
  const opts = { ...DEFAULT_DYNAMODB_LOCAL_OPTIONS, ...options };
  // Absolute: the engine runs in a temporary working directory.
  const installDir = resolve(opts.installDir ?? defaultInstallDir());
  const jar = join(installDir, "DynamoDBLocal.jar");
  if (!existsSync(jar)) throw new DynamoDBLocalNotInstalledError(installDir);
  const java = resolveJava(opts.javaPath);
  checkJava(java);
  if (opts.dbPath) mkdirSync(opts.dbPath, { recursive: true });
  // Without this check the probe below would be answered by whatever already listens there.
  if (opts.port) await assertPortFree(opts.port);

  // A free port can be taken between the probe and the bind; pick again in that case.
  for (let attempt = 1; ; attempt++) {
    const port = opts.port || (await freePort());
    try {
      return await launch(java, jar, installDir, port, opts);
    } catch (err) {
      const retry = !opts.port && attempt < 3 && (err instanceof PortInUseError || (err instanceof DynamoDBLocalStartError && /in use/i.test(err.output)));
      if (!retry) throw err;
    }
  }
}

async function launch(java: string, jar: string, installDir: string, port: number, opts: DynamoDBLocalOptions): Promise<DynamoDBLocal> {
  const args = [
    `-Xmx${opts.heap}`,
    `-Djava.library.path=${join(installDir, "DynamoDBLocal_lib")}`,
    "-jar",
    jar,
    "-port",
    String(port),
    // One database for every access key and region, as a single AWS account would see.
    ...(opts.sharedDb ? ["-sharedDb"] : []),
    "-disableTelemetry",
    ...(opts.dbPath ? ["-dbPath", resolve(opts.dbPath)] : ["-inMemory"]),
  ];
  // The engine writes dynamodb-local-metadata.json (an installation id) into its working
  // directory: give it a temporary one, never the user's checkout.
  const workDir = mkdtempSync(join(tmpdir(), "ferry-dynamodb-local-"));
  const watchdog: ChildProcess = spawn(process.execPath, [join(here, "watchdog.mjs"), java, ...args], {
    cwd: workDir,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8_000);
    if (opts.verbose) process.stderr.write(chunk);
  };
  watchdog.stdout?.on("data", collect);
  watchdog.stderr?.on("data", collect);
  let running = true;
  const exited = new Promise<void>((done) =>
    watchdog.once("exit", () => {
      running = false;
      rmSync(workDir, { recursive: true, force: true });
      done();
    }),
  );

  const endpoint = `http://127.0.0.1:${port}`;
  const engine: DynamoDBLocal = {
    endpoint,
    port,
    javaPid: undefined,
    exited,
    async stop() {
      if (!running) return;
      watchdog.stdin?.end();
      const killer = setTimeout(() => watchdog.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(killer);
    },
  };

  const { raw } = createDynamoClients({ endpoint, config: { maxAttempts: 1 } });
  const started = Date.now();
  try {
    for (;;) {
      if (!running) throw new DynamoDBLocalStartError(`DynamoDB Local exited before answering on port ${port}.`, output);
      // Taken after the check above: an answer now would come from the other listener.
      if (BIND_FAILED.test(output)) throw new PortInUseError(port);
      try {
        await raw.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: AbortSignal.timeout(2_000) });
        if (BIND_FAILED.test(output)) throw new PortInUseError(port);
        break;
      } catch (err) {
        if (err instanceof PortInUseError) throw err;
        if (Date.now() - started > opts.startTimeoutMs) {
          throw new DynamoDBLocalStartError(`DynamoDB Local did not answer on ${endpoint} within ${opts.startTimeoutMs} ms.`, output);
        }
        await sleep(100);
      }
    }
  } catch (err) {
    await engine.stop();
    throw err;
  } finally {
    raw.destroy();
  }
  engine.javaPid = findJavaPid(watchdog.pid);
  return engine;
}

/** The java child of the watchdog (Linux /proc), for tests and diagnostics. */
function findJavaPid(watchdogPid: number | undefined): number | undefined {
  if (!watchdogPid) return undefined;
  try {
    const children = readFileSync(`/proc/${watchdogPid}/task/${watchdogPid}/children`, "utf8").trim();
    const first = children.split(/\s+/)[0];
    return first ? Number(first) : undefined;
  } catch {
    return undefined;
  }
}
