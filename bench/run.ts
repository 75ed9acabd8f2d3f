/**
 * `npm run bench`: ferry against its limits on the embedded engine (issue 8). Runs the
 * measurements, each on a DynamoDB Local of its own, prints the table, and writes
 * results.json, results.svg and results.md (bench/ for a full run; a quick run writes to
 * the temp folder unless --out is given, so it never replaces the committed results).
 * `--readme` also replaces README.md's Benchmarks block between its bench markers.
 *
 *   npm run bench                     # full run, sized to fit ~25 min on 2 cores
 *   npm run bench -- --quick          # smoke run, a few minutes
 *   npm run bench -- --items 100000 --sizes 1000,10000,100000   # the sizes of issue 8 (~80 min)
 *   npm run bench -- --only lag,flip --lag-seconds 20
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { benchByContext } from "./by-context.ts";
import { benchThroughput } from "./backfill-throughput.ts";
import { ENGINE_HEAP, log, startEngine, withEngine } from "./common.ts";
import { DEFAULT_LAG_BENCH, type LagBenchOptions, type LagRepetition, benchLagRepetition } from "./dual-write-lag.ts";
import { benchFlip } from "./flip.ts";
import { DEFAULT_LATENCIES_MS } from "./network.ts";
import { type Results, describeMachine, markdown, svgChart } from "./report.ts";

// The dual-write handler's Powertools logger would print per batch; only errors matter here.
process.env.POWERTOOLS_LOG_LEVEL ??= "ERROR";

const MEASUREMENTS = ["by-context", "throughput", "lag", "flip"] as const;
type Measurement = (typeof MEASUREMENTS)[number];

const HELP = `Usage: npm run bench -- [options]

  --quick                 small sizes, one repetition: a smoke run of a few minutes
  --only <list>           some of: ${MEASUREMENTS.join(",")} (throughput includes memory and plan accuracy)
  --sizes <list>          workflows per tenant for v1/v2 (default 1000,10000; quick 1000,3000; 100000 adds ~10 min)
  --ctx-reps <n>          fresh engines per v1/v2 size (default 3; quick 1)
  --dual-write-changes <n> changes applied per index design to measure the dual-write's cost (default 500; quick 200)
  --item-kb <kb>          workflow size for v1/v2 (default 10)
  --items <n>             source items of the backfill benchmarks (default 20000; quick 5000)
  --backfill-item-kb <kb> their size (default 2)
  --backfill-tenants <n>  partitions they are spread over (default 100; must divide --items and --memory-items)
  --memory-items <n>      the small point of the memory benchmark (default 5000; quick 1000)
  --reps <n>              backfill repetitions per variant (default 3; quick 1)
  --skip-plan             leave out plan accuracy (ferry plan's exact count is superlinear on DynamoDB Local)
  --lag-rate <n>          dual-write writes/s (default 200)
  --lag-seconds <n>       how long, measured (default 60; quick 10)
  --lag-warmup <n>        unmeasured seconds at the rate first (default 20, the sweep's 10; quick 5)
  --lag-sweep-seconds <n> each higher rate of the sweep (250, 300, 400, 600, 800/s until p99 >= 1 s; default 30; quick 10, 300/s only)
  --lag-reps <n>          repetitions (default 3; quick 1)
  --poll-ms <n>           the local event source mapping's poll interval (default 50)
  --flips <n>             flips each way (default 5; quick 2)
  --latency <list>        the network model's delays per DynamoDB call in ms (default ${DEFAULT_LATENCIES_MS.join(",")}; 0 leaves it out)
  --network-items <n>     source items of the network model's backfill runs (default 4000; quick 2000)
  --network-size <n>      workflows of the network model's v1/v2 runs (default 10000; quick 3000)
  --out <dir>             where results.{json,svg,md} go (default bench/; quick: the temp folder)
  --readme                replace README.md's block between <!-- bench:start --> and <!-- bench:end -->
Example: npm run bench -- --quick`;

function parseArgs(argv: string[]): Map<string, string | true> {
  const args = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith("--")) throw new Error(`unexpected argument ${arg}\n\n${HELP}`);
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith("--")) {
      args.set(arg.slice(2), next);
      i++;
    } else args.set(arg.slice(2), true);
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
if (args.has("help")) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}
const quick = args.has("quick");
const num = (name: string, full: number, small = full): number => {
  const v = args.get(name);
  if (v === undefined) return quick ? small : full;
  const parsed = Number(v);
  if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`--${name} must be a positive number (got ${String(v)})`);
  return parsed;
};
const list = (name: string, full: string, small: string) => String(args.get(name) ?? (quick ? small : full)).split(",");
const only = new Set(list("only", MEASUREMENTS.join(","), MEASUREMENTS.join(",")) as Measurement[]);
for (const m of only) if (!MEASUREMENTS.includes(m)) throw new Error(`--only: unknown measurement ${m} (use ${MEASUREMENTS.join(",")})`);

const here = fileURLToPath(new URL(".", import.meta.url));
const latencies = list("latency", DEFAULT_LATENCIES_MS.join(","), DEFAULT_LATENCIES_MS.join(","))
  .map(Number)
  .filter((ms) => ms > 0);
const outDir = String(args.get("out") ?? (quick ? join(tmpdir(), "ferry-bench-quick") : here));

const started = performance.now();
const loadAverage = () => loadavg().map((x) => Math.round(x * 100) / 100);
const results: Results = { quick, machine: describeMachine(ENGINE_HEAP), load: { start: loadAverage() } };
log(`machine: ${JSON.stringify(results.machine)}`);

/** Writes results.{json,svg,md} (after every measurement too, so a run cut short keeps what it measured). */
function write(): string {
  results.durationSeconds = Math.round((performance.now() - started) / 1000);
  results.load = { start: results.load?.start ?? [], end: loadAverage() };
  const table = markdown(results);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(outDir, "results.svg"), svgChart(results));
  writeFileSync(join(outDir, "results.md"), `${table}\n`);
  return table;
}
/** Runs one measurement; a failure is recorded (and printed as a missed row) and the run goes on to the next. */
async function section(name: string, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    results.errors = { ...results.errors, [name]: message.split("\n")[0] ?? message };
    log(`${name} FAILED: ${message}`);
    process.exitCode = 1;
  }
}
/** CPU time counters of the whole machine (/proc/stat's first line: user nice system idle iowait irq softirq steal ...); undefined off Linux. */
function cpuTimes(): { steal: number; total: number } | undefined {
  try {
    const fields = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/).slice(1, 9).map(Number);
    return { steal: fields[7] ?? 0, total: fields.reduce((a, b) => a + b, 0) };
  } catch {
    return undefined;
  }
}
let cpuSince = cpuTimes();
const lap = (name: string, since: number) => {
  results.sectionSeconds = { ...results.sectionSeconds, [name]: Math.round((performance.now() - since) / 1000) };
  // A shared VM: the hypervisor's steal is what the load average does not show (30% during one lag run).
  const now = cpuTimes();
  if (now && cpuSince && now.total > cpuSince.total)
    results.sectionSteal = { ...results.sectionSteal, [name]: Math.round(((now.steal - cpuSince.steal) / (now.total - cpuSince.total)) * 100) };
  cpuSince = now;
  log(`${name}: ${results.sectionSeconds[name]} s`);
  write();
};
let since = performance.now();
if (only.has("by-context"))
  await section("by-context", async () => {
    const sizes = list("sizes", "1000,10000", "1000,3000").map(Number);
    results.byContext = await benchByContext(startEngine, {
      sizes,
      repetitions: num("ctx-reps", 3, 1),
      latenciesMs: latencies,
      networkSize: num("network-size", 10_000, 3_000),
      itemKb: num("item-kb", 10),
      // Per repetition; v1 at 100,000 x 10 KB reads ~1 GB per request: fewer there.
      v1Requests: (size) => (quick ? 4 : size >= 100_000 ? 2 : 5),
      v2Requests: quick ? 30 : 60,
      warmupRequests: quick ? 10 : 50,
      profileRequests: quick ? 40 : 100,
      dualWriteChanges: num("dual-write-changes", 500, 200),
    });
    lap("by-context", since);
  });
since = performance.now();
if (only.has("throughput"))
  await section("throughput", async () => {
    results.throughput = await benchThroughput(startEngine, {
      items: num("items", 20_000, 5_000),
      itemKb: num("backfill-item-kb", 2),
      tenants: num("backfill-tenants", 100, 10),
      repetitions: num("reps", 3, 1),
      segments: 4,
      pageSize: 100,
      memorySmallItems: num("memory-items", 5_000, 1_000),
      skipPlan: args.has("skip-plan"),
      latenciesMs: latencies,
      networkItems: num("network-items", 4_000, 2_000),
    });
    lap("throughput", since);
  });
since = performance.now();
if (only.has("lag"))
  await section("lag", async () => {
    // Each measurement on a fresh engine (dual-write-lag.ts LagRepetition says why); medians of the repetitions.
    const o: LagBenchOptions = {
      ...DEFAULT_LAG_BENCH,
      rate: num("lag-rate", DEFAULT_LAG_BENCH.rate),
      seconds: num("lag-seconds", DEFAULT_LAG_BENCH.seconds, 10),
      sweepSeconds: num("lag-sweep-seconds", DEFAULT_LAG_BENCH.sweepSeconds, 10),
      warmupSeconds: num("lag-warmup", DEFAULT_LAG_BENCH.warmupSeconds, 5),
      sweepWarmupSeconds: num("lag-warmup", DEFAULT_LAG_BENCH.sweepWarmupSeconds, 5),
      ...(quick ? { sweepRates: [300] } : {}),
      pollIntervalMs: num("poll-ms", DEFAULT_LAG_BENCH.pollIntervalMs),
      seedItems: quick ? 500 : DEFAULT_LAG_BENCH.seedItems,
    };
    const reps: LagRepetition[] = [];
    for (let i = 0; i < num("lag-reps", 3, 1); i++) {
      reps.push(await benchLagRepetition(o));
      results.lagReps = { options: o, reps };
    }
    // The notes describe the repetition with the median p99.
    results.lag = [...reps].sort((a, b) => a.target.lagMs.p99 - b.target.lagMs.p99)[Math.floor(reps.length / 2)]?.target;
  });
if (only.has("lag")) lap("lag", since);
since = performance.now();
if (only.has("flip"))
  await section("flip", async () => {
    results.flip = await withEngine((engine) => benchFlip(engine, { flips: num("flips", 5, 2), workflows: 1_000 }));
    lap("flip", since);
  });

const table = write();
process.stdout.write(`${table}\n\nWrote ${join(outDir, "results.json")}, results.svg, results.md (${results.durationSeconds} s).\n`);

if (args.has("readme")) {
  const readme = join(here, "..", "README.md");
  const text = readFileSync(readme, "utf8");
  const block = /<!-- bench:start -->[\s\S]*<!-- bench:end -->/;
  if (!block.test(text)) throw new Error("README.md has no <!-- bench:start --> ... <!-- bench:end --> block to replace");
  writeFileSync(readme, text.replace(block, `<!-- bench:start -->\n${table}\n<!-- bench:end -->`));
  log("README.md Benchmarks block updated");
}
