// Opt-in (FERRY_TEST_PROFILE=<file>): appends one JSON line per test file with its wall time, the
// CPU of its worker, of the processes it spawned (reaped children) and of DynamoDB Local while it
// ran (meaningful when the file runs alone), and what it spawned. For measuring the suite only.
import childProcess from "node:child_process";
import { appendFileSync, readFileSync, readdirSync } from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { afterAll, beforeAll, inject } from "vitest";

const out = process.env.FERRY_TEST_PROFILE;
const ticks = 100; // USER_HZ on Linux

/** utime+stime and cutime+cstime of a process, in seconds. */
function cpuOf(pid: number | "self"): { self: number; children: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields after the command: state is f[0], utime is field 14 overall (f[11]).
    return { self: (Number(f[11]) + Number(f[12])) / ticks, children: (Number(f[13]) + Number(f[14])) / ticks };
  } catch {
    return { self: 0, children: 0 };
  }
}

function enginePid(): number | undefined {
  const engines = inject("dynamoEndpoints");
  const port = new URL(engines[(Number(process.env.VITEST_POOL_ID ?? 1) - 1) % engines.length] as string).port;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (/java$/.test(cmd[0] ?? "") && cmd.some((a) => a.endsWith("DynamoDBLocal.jar")) && cmd[cmd.indexOf("-port") + 1] === port) return Number(entry);
    } catch {}
  }
  return undefined;
}

if (out) {
  const spawned: Record<string, number> = {};
  const original = childProcess.spawn;
  childProcess.spawn = ((command: string, args?: readonly string[], ...rest: unknown[]) => {
    const script = Array.isArray(args) ? (args.find((a) => /\.(m?[jt]s|mjs)$/.test(a)) ?? command) : command;
    const name = String(script).split("/").slice(-2).join("/");
    spawned[name] = (spawned[name] ?? 0) + 1;
    return (original as (...a: unknown[]) => ReturnType<typeof original>)(command, args, ...rest);
  }) as typeof original;
  syncBuiltinESMExports();

  let start = 0;
  let file = "?";
  let engine: number | undefined;
  let engineCpu0 = 0;
  // biome-ignore lint/correctness/noEmptyPattern: vitest passes the suite second, after a fixture object it parses.
  beforeAll(({}, suite) => {
    const s = suite as unknown as { filepath?: string; file?: { filepath?: string } };
    file = s.filepath ?? s.file?.filepath ?? "?";
    start = performance.now();
    engine = enginePid();
    engineCpu0 = engine ? cpuOf(engine).self : 0;
  });
  afterAll(() => {
    const own = cpuOf("self");
    appendFileSync(
      out,
      `${JSON.stringify({
        file: file.replace(/^.*\/test\//, ""),
        wallS: Math.round(performance.now() - start) / 1000,
        workerCpuS: own.self,
        childrenCpuS: own.children,
        engineCpuS: engine ? Math.round((cpuOf(engine).self - engineCpu0) * 100) / 100 : null,
        spawned,
        load: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" "),
      })}\n`,
    );
  });
}
