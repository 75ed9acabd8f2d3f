/**
 * Turns the measured results into what `npm run bench` shows and commits: a markdown table
 * with each target met or missed (stdout, bench/results.md, the README's Benchmarks
 * section between its markers) and an SVG chart drawn by hand (no chart dependency).
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, totalmem, type } from "node:os";
import { type ByContextRow, DESIGNS, type Design } from "./by-context.ts";
import { CHANGE_MIX } from "./index-fields-cost.ts";
import type { ThroughputResult } from "./backfill-throughput.ts";
import { type LagBenchOptions, type LagRepetition, type LagResult, lagRows } from "./dual-write-lag.ts";
import type { FlipResult } from "./flip.ts";
import { DEFAULT_SCALE_INPUTS, SCALE_SIZES, type ScaleInputs, scaleMarkdown, scaleModel } from "./scale-model.ts";

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  java: string;
  engine: string;
  engineHeap: string;
  date: string;
}

export interface Results {
  quick: boolean;
  machine: Machine;
  byContext?: ByContextRow[];
  throughput?: ThroughputResult;
  /** The repetition with the median p99's target run (its profile is the notes'). */
  lag?: LagResult;
  /** Every lag repetition: ceiling, target run, sweep (dual-write-lag.ts). */
  lagReps?: { options: LagBenchOptions; reps: LagRepetition[] };
  flip?: FlipResult;
  durationSeconds?: number;
  /** Measurements that failed, with the first line of their error. */
  errors?: Record<string, string>;
  /** Wall time of each measurement. */
  sectionSeconds?: Record<string, number>;
  /** Share of CPU time the hypervisor gave other guests during each measurement (steal, /proc/stat), in %. */
  sectionSteal?: Record<string, number>;
  /** Load average when the run started and ended (`uptime`: the machine is shared). */
  load?: { start: number[]; end?: number[] };
}

export function describeMachine(engineHeap: string): Machine {
  // java -version prints on stderr.
  const probe = spawnSync("java", ["-version"], { encoding: "utf8" });
  const java = `${probe.stderr ?? ""}${probe.stdout ?? ""}`.split("\n")[0]?.trim() || "java (version unknown)";
  let engine = "DynamoDB Local";
  try {
    const install = JSON.parse(readFileSync(new URL("../node_modules/.ferry/dynamodb-local/ferry-install.json", import.meta.url), "utf8")) as {
      package: string;
      version: string;
    };
    engine = `DynamoDB Local (npm ${install.package} ${install.version}), in memory`;
  } catch {
    // keep the generic name
  }
  return {
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: type(),
    node: process.version,
    java: java.trim(),
    engine,
    engineHeap,
    date: new Date().toISOString().slice(0, 10),
  };
}

/** v2 p50 in the floor phase (older results: the p50 between v1 requests). */
const vf = (d: ByContextRow["designs"][Design]) => d.besideFloor?.p50 ?? d.v2.p50;
const DESIGN_LABEL: Record<Design, string> = { batchGet: "0001 as shipped (index + BatchGetItem)", indexFields: "index records with the fields (one Query)" };

const mark = (met: boolean | undefined) => (met === undefined ? "–" : met ? "met" : "**missed**");
const n = (x: number) => x.toLocaleString("en-US");

/** The markdown the README and stdout show. */
export function markdown(r: Results): string {
  const m = r.machine;
  const lines: string[] = [];
  const lagNotes: string[] = [];
  lines.push(
    `Measured ${m.date}${r.quick ? " (quick smoke run: small sizes, not comparable to the full run)" : ""} on ${m.cores} x ${m.cpu}, ${m.memoryGiB} GiB, ${m.os}, ` +
      `node ${m.node}, ${m.java}, ${m.engine} with -Xmx${m.engineHeap}. The machine is shared with other jobs: expect noise` +
      (r.load ? ` (load average ${r.load.start.join(" / ")} at the start${r.load.end ? `, ${r.load.end.join(" / ")} at the end` : ""})` : "") +
      `. Every comparison is a ratio of medians measured in the same run${r.durationSeconds ? `; the run took ${Math.round(r.durationSeconds / 60)} min` : ""}` +
      (r.sectionSeconds
        ? ` (${Object.entries(r.sectionSeconds)
            .map(([k, v]) => `${k} ${Math.round((v / 60) * 10) / 10} min${r.sectionSteal?.[k] !== undefined ? `, ${r.sectionSteal[k]}% CPU stolen` : ""}`)
            .join(", ")})`
        : "") +
      ".",
    "",
    "| # | Measurement | Result | Target | |",
    "|---|---|---|---|---|",
  );
  const bc = r.byContext ?? [];
  const at10k = bc.find((row) => row.workflows === 10_000) ?? bc[bc.length - 1];
  const ctxNotes: string[] = [];
  if (at10k) {
    const size = `${n(at10k.workflows)} x ${at10k.itemKb} KB`;
    const official = at10k.workflows === 10_000;
    const reps = `medians of ${at10k.repetitions} fresh engines`;
    for (const design of DESIGNS) {
      const d = at10k.designs[design];
      const label = DESIGN_LABEL[design];
      lines.push(
        `| 1 | Workflows by context at ${size}, ${label}: v1 / v2 at p50 (${reps}; per engine ${at10k.ratiosByRep[design].join(", ")}x) | ${n(at10k.v1.p50)} ms / ${d.v2.p50} ms = **${d.ratioP50}x** | >= 300x | ${mark(official ? d.ratioP50 >= 300 : undefined)} |`,
        `| 1 | ${label}: v2 p50 through HTTP vs the engine's floor (the same calls sent directly with the SDK, beside each request) | ${vf(d)} / ${d.floorMs} ms = **${round2(vf(d) / d.floorMs)}x** | <= 1.25x | ${mark(vf(d) / d.floorMs <= 1.25)} |`,
        `| 1 | ${label}: the HTTP layer's own share at p50 (the app in-process with the read from memory: auth, release lookup, counters, routing, JSON) | ${d.http.appOwnMs} ms (auth ${round2(d.http.appOwnMs - d.http.appOwnNoAuthMs)} ms of it); v2 p50 minus the floor, with the loopback transport: ${d.httpShareMs} ms | <= 1 ms | ${mark(d.http.appOwnMs <= 1)} |`,
      );
    }
    const bg = at10k.designs.batchGet;
    const f = at10k.designs.indexFields;
    lines.push(
      `| 1 | v2 p95 at ${n(at10k.workflows)} (${DESIGN_LABEL.batchGet} / ${DESIGN_LABEL.indexFields}) | ${bg.v2.p95} / ${f.v2.p95} ms | < 50 ms | ${mark(bg.v2.p95 < 50 && f.v2.p95 < 50)} |`,
      `| 1 | the index Query with \`SK BETWEEN\` (the reader's) vs \`begins_with\` (same result, side by side) | ${bg.indexQueryBetweenAloneMs} vs ${bg.indexQueryBeginsWithMs} ms (fields: ${f.indexQueryBetweenAloneMs} vs ${f.indexQueryBeginsWithMs} ms) | (measured) | – |`,
    );
    const cost = at10k.dualWriteCost;
    if (cost)
      lines.push(
        `| 1 | what the fields cost the dual-write (${n(cost.changes)} changes of an application's mix) | per change: ${cost.indexFields.recordsPerChange} vs ${cost.batchGet.recordsPerChange} records, ${cost.indexFields.writeUnitsPerChange} vs ${cost.batchGet.writeUnitsPerChange} WCU, ${cost.indexFields.msPerChange} vs ${cost.batchGet.msPerChange} ms | (measured) | – |`,
      );
    for (const net of at10k.network ?? []) {
      lines.push(
        `| 1 | network model, ${net.latencyMs} ms per call: v1 / v2 at p50 (${DESIGN_LABEL.batchGet}; ${DESIGN_LABEL.indexFields}) | ${n(net.v1p50)} / ${net.v2p50} ms = ${net.ratioP50}x; / ${net.fieldsP50} ms = ${net.fieldsRatioP50}x | (reported) | – |`,
      );
    }
    for (const design of DESIGNS) {
      const h = at10k.designs[design].http;
      ctxNotes.push(
        `- ${DESIGN_LABEL[design]}: v2 p50 beside its floor ${vf(at10k.designs[design])} ms (${at10k.designs[design].v2.p50} ms between v1 requests) = floor ${at10k.designs[design].floorMs} (index Query ${at10k.designs[design].indexQueryMs}${design === "batchGet" ? ` + BatchGetItem ${at10k.designs[design].batchGetMs}` : ""}) + HTTP ${at10k.designs[design].httpShareMs} ms. ` +
          `HTTP layer profile (medians of ${h.requests}): through the socket ${h.httpMs} ms (through fetch ${h.fetchMs} ms), the app in-process (app.fetch) ${h.inProcessMs} ms: auth ${h.authMs}, release lookup ${h.releaseMs}, counter ${h.counterMs}, the read ${h.readMs}, the rest (routing, checks, nextToken, c.json) ${h.restMs} ms; ` +
          `the bare transport (node:http answering the same ${n(h.answerBytes)} bytes to the same client) ${h.transportMs} ms; JSON.stringify alone ${h.jsonMs} ms; ` +
          `the app with the read from memory ${h.appOwnMs} ms, and with the tenant from memory too ${h.appOwnNoAuthMs} ms.`,
      );
    }
    if (cost) {
      ctxNotes.push(
        `- The dual-write with the fields (${n(cost.changes)} changes: ${Object.entries(CHANGE_MIX)
          .map(([k, v]) => `${Math.round(v * 100)}% ${k}`)
          .join(
            ", ",
          )}; batches of ${cost.batchSize}, the real dual-writer): ${Math.round(cost.indexFields.appliedShare * 100)}% of changes write records (keys only: ${Math.round(cost.batchGet.appliedShare * 100)}%), records of ${n(cost.indexFields.recordBytes)} bytes (keys only: ${n(cost.batchGet.recordBytes)}).`,
      );
    }
  }
  const t = r.throughput;
  if (t) {
    const ips = t.itemsPerSecond;
    lines.push(
      `| 2 | Backfill of ${n(t.items)} x ${t.itemKb} KB items (${n(t.tenants)} tenants): ferry vs raw BatchWrite ceiling (a) | ${n(ips.ferry)} / ${n(ips.raw)} items/s = **${t.ferryOfRaw}%** | >= 45% | ${mark(t.ferryOfRaw >= 45)} |`,
      `| 2 | ferry vs naive script (b) | ${n(ips.ferry)} / ${n(ips.naive)} items/s = **${t.ferryOverNaive}x** | >= 10x | ${mark(t.ferryOverNaive >= 10)} |`,
      `| 2 | Race safety: ferry vs the same Scan with unconditional BatchWrite | ${n(ips.ferry)} / ${n(ips.unconditional)} items/s = **${t.ferryOfUnconditional}%** | >= 85% | ${mark(t.ferryOfUnconditional >= 85)} |`,
      `| 3 | Backfill peak RSS, ${n(t.memory.smallItems)} -> ${n(t.items)} items | ${medianOf(t.memory.smallMaxRssMb)} -> ${medianOf(t.memory.largeMaxRssMb)} MB = **${signed(t.memory.growth)}%** | < +20% | ${mark(t.memory.growth < 20)} |`,
    );
    for (const net of t.network ?? []) {
      const ni = net.itemsPerSecond;
      lines.push(
        `| 2 | network model, ${net.latencyMs} ms per call (${n(net.items)} items): ferry vs naive script | ${n(ni.ferry)} / ${n(ni.naive)} items/s = **${net.ferryOverNaive}x** | ${net.latencyMs >= 8 ? ">= 10x" : "(reported)"} | ${net.latencyMs >= 8 ? mark(net.ferryOverNaive >= 10) : "–"} |`,
        `| 2 | network model, ${net.latencyMs} ms per call: ferry vs unconditional, raw | ${net.ferryOfUnconditional}% of ${n(ni.unconditional)}; raw ${n(ni.raw)} items/s | (reported) | – |`,
      );
    }
    if (t.plan) {
      lines.push(
        `| 6 | Plan vs consumed, write units (plan: AWS model; consumed: DynamoDB Local) | ${n(t.plan.plannedWriteUnits)} vs ${n(t.plan.consumedWriteUnits)} = ${signed(t.plan.writeError)}% | +-10% | ${mark(Math.abs(t.plan.writeError) <= 10)} |`,
        `| 6 | Plan vs consumed, read units | ${n(t.plan.plannedReadUnits)} vs ${n(t.plan.consumedReadUnits)} = ${signed(t.plan.readError)}% | +-10% | ${mark(Math.abs(t.plan.readError) <= 10)} |`,
      );
    }
  }
  if (r.lagReps) lines.push(...lagRows(r.lagReps.reps, r.lagReps.options));
  for (const l of [r.lag]) {
    if (!l) continue;
    const slowest = Object.entries(l.calls).sort((a, b) => b[1].p99Ms - a[1].p99Ms)[0];
    lagNotes.push(
      `- ${l.writesPerSecond} writes/s (the median repetition, after ${l.warmupSeconds} s unmeasured; achieved ${l.achievedWritesPerSecond}/s; p50 ${l.lagMs.p50} ms; read check on ${l.readCheck.n}: p50 ${l.readCheck.p50}, p99 ${l.readCheck.p99} ms; ` +
        `CPU per insert: engine ${l.cpuMsPerInsert.engine} ms, node ${l.cpuMsPerInsert.node} ms; lag p99 per second ${l.lagP99BySecond.join(", ")} ms): delivery (ack -> invocation start) p50 ${l.lagParts.deliveryMs.p50} / p99 ${l.lagParts.deliveryMs.p99} ms; ` +
        `handler (invocation) p50 ${l.lagParts.handlerMs.p50} / p99 ${l.lagParts.handlerMs.p99} ms; batches p50 ${l.batchSize.p50} records; ` +
        `event-loop delay p99 ${l.eventLoopDelayMs.p99} ms (max ${l.eventLoopDelayMs.max}); put ack p99 ${l.putAckMs.p99} ms` +
        (slowest ? `; slowest call p99: ${slowest[0].replace(/Command$/, "")} ${slowest[1].p99Ms} ms (max ${slowest[1].maxMs})` : ""),
    );
  }
  if (r.flip) {
    const f = r.flip;
    lines.push(
      `| 5 | Flip propagation, move to a running server answering the new version (cache ${f.cacheMs} ms, ${f.flips} flips) | median ${n(f.medianMs)} ms, max ${n(f.maxMs)} ms, ${f.regressions} regressions | <= 5 s (cache bound) | ${mark(f.maxMs <= 5_000 && f.regressions === 0)} |`,
    );
  }
  for (const [name, message] of Object.entries(r.errors ?? {}))
    lines.push(`| – | ${esc(name)} FAILED: ${esc(message).replace(/\|/g, "/")} | – | its targets | **missed** |`);
  if (bc.length > 0) {
    lines.push(
      "",
      `Workflows by context through the HTTP server (one tenant, ~20 workflows per context, \`limit=100\`; medians over fresh engines; v2 = ${DESIGN_LABEL.batchGet}, fields = ${DESIGN_LABEL.indexFields}):`,
      "",
      "| workflows | v1 p50 | v1 p95 | v1 pages | v2 p50 | v2 p95 | v1/v2 | v2 floor (Query + BatchGet) + HTTP | fields p50 | fields p95 | v1/fields | fields floor (Query) + HTTP |",
      "|---|---|---|---|---|---|---|---|---|---|---|---|",
      ...bc.map((row) => {
        const bg = row.designs.batchGet;
        const f = row.designs.indexFields;
        return `| ${n(row.workflows)} x ${row.itemKb} KB | ${n(row.v1.p50)} ms | ${n(row.v1.p95)} ms | ${row.v1.queryPages} (${row.v1.pageMs} ms each) | ${bg.v2.p50} ms | ${bg.v2.p95} ms | ${bg.ratioP50}x | ${bg.indexQueryMs} + ${bg.batchGetMs} + ${bg.httpShareMs} ms | ${f.v2.p50} ms | ${f.v2.p95} ms | ${f.ratioP50}x | ${f.indexQueryMs} + ${f.httpShareMs} ms |`;
      }),
    );
    if (ctxNotes.length > 0) lines.push("", `Where v2's time goes at ${n(at10k?.workflows ?? 0)} workflows:`, "", ...ctxNotes);
  }
  if (t) {
    lines.push(
      "",
      `Backfill of 0001 on ${n(t.items)} source items of ${t.itemKb} KB over ${n(t.tenants)} tenants (${t.segments} segments, pages of ${t.pageSize}, rate uncapped; medians of ${t.runs.ferry.length}):`,
      "",
      "| variant | items/s | runs (ms) |",
      "|---|---|---|",
      `| ferry (\`startConversion\`: INSERT batches of the records, a validation BatchGetItem per page and repairs, checkpoints, local state machine) | ${n(t.itemsPerSecond.ferry)} | ${t.runs.ferry.join(", ")} |`,
      `| same parallel Scan, unconditional BatchWriteItem | ${n(t.itemsPerSecond.unconditional)} | ${t.runs.unconditional.join(", ")} |`,
      `| (a) raw ceiling: precomputed records, ${t.segments} parallel BatchWriteItem, no reads | ${n(t.itemsPerSecond.raw)} | ${t.runs.raw.join(", ")} |`,
      `| (b) naive: sequential Scan pages of 25, one BatchWriteItem at a time | ${n(t.itemsPerSecond.naive)} | ${t.runs.naive.join(", ")} |`,
    );
  }
  if (t) {
    const calls = (c: Record<string, number>) =>
      Object.entries(c)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${n(v)}`)
        .join(", ");
    lines.push("", `ferry's DynamoDB calls per run (${n(t.items)} items): ${calls(t.ferryCalls ?? {})}.`);
    for (const net of t.network ?? []) lines.push(`At ${net.latencyMs} ms per call (${n(net.items)} items): ${calls(net.ferryCalls ?? {})}.`);
  }
  if (lagNotes.length > 0) lines.push("", "Dual-write lag, where the time goes:", "", ...lagNotes);
  const scale = t && scaleOf(t);
  if (scale) lines.push("", scale);
  return lines.join("\n");
}

/** The scale model calibrated on this run: capacity per item, and the per-segment rate at the network model's largest delay. */
function scaleOf(t: ThroughputResult): string | undefined {
  const net = [...(t.network ?? [])].sort((a, b) => b.latencyMs - a.latencyMs)[0];
  if (!net || !t.unitsPerItem) return undefined;
  const segmentItemsPerSecond = net.itemsPerSecond.ferry / t.segments;
  const inputs: ScaleInputs = {
    ...DEFAULT_SCALE_INPUTS,
    writeUnitsPerItem: t.unitsPerItem.write,
    readUnitsPerItem: t.unitsPerItem.read,
    segmentItemsPerSecond,
    pageSeconds: t.pageSize / segmentItemsPerSecond,
  };
  const small = scaleModel([t.items], { ...inputs, pageSize: t.pageSize })[0];
  return scaleMarkdown(
    scaleModel(SCALE_SIZES, inputs),
    inputs,
    small && {
      items: t.items,
      predictedExecutions: small.executions,
      executions: t.ferryExecutions,
      predictedReadUnits: t.items * t.unitsPerItem.read,
      readUnits: t.ferryTotals.consumedReadUnits,
    },
  );
}

const medianOf = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] ?? Number.NaN;
};
const round2 = (x: number) => Math.round(x * 100) / 100;
const round1 = (x: number) => Math.round(x * 10) / 10;
const signed = (x: number) => (x > 0 ? `+${x}` : String(x));
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

/** Two panels: v1 and v2 p50 by size (log scale), and backfill items/s per variant. */
export function svgChart(r: Results): string {
  const W = 860;
  const H = 372;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
  ];
  const bc = r.byContext ?? [];
  // Left panel: log10 ms.
  const x0 = 60;
  const y0 = 270;
  const ph = 210;
  parts.push(`<text x="${x0}" y="24" font-size="14" font-weight="bold">Workflows by context, p50 latency (log scale)</text>`);
  const maxMs = Math.max(10, ...bc.map((row) => row.v1.p50));
  const top = 10 ** Math.ceil(Math.log10(maxMs));
  const bottom = 1;
  const y = (ms: number) => y0 - (Math.log10(Math.max(bottom, ms)) / Math.log10(top)) * ph;
  for (let d = bottom; d <= top; d *= 10) {
    parts.push(
      `<line x1="${x0}" x2="${x0 + 340}" y1="${y(d)}" y2="${y(d)}" stroke="#ddd"/>`,
      `<text x="${x0 - 6}" y="${y(d) + 4}" text-anchor="end">${d >= 1000 ? `${d / 1000} s` : `${d} ms`}</text>`,
    );
  }
  const group = 340 / Math.max(1, bc.length);
  bc.forEach((row, i) => {
    const gx = x0 + i * group + group * 0.1;
    const bw = (group * 0.8) / 3;
    const fields = row.designs?.indexFields?.v2.p50;
    const bars: [number, number | undefined, string][] = [
      [0, row.v1.p50, "#c0504d"],
      [1, row.v2.p50, "#4f81bd"],
      [2, fields, "#9bbb59"],
    ];
    for (const [k, v, color] of bars) {
      if (v === undefined) continue;
      const bx = gx + k * bw;
      parts.push(
        `<rect x="${bx}" y="${y(v)}" width="${bw - 4}" height="${y0 - y(v)}" fill="${color}"/>`,
        `<text x="${bx + (bw - 4) / 2}" y="${y(v) - 4}" text-anchor="middle" font-size="10">${v >= 100 ? Math.round(v) : round1(v)}</text>`,
      );
    }
    const ratios = fields === undefined ? `${row.ratioP50}x` : `${row.ratioP50}x / ${row.designs.indexFields.ratioP50}x`;
    parts.push(
      `<text x="${gx + bw * 1.5}" y="${y0 + 16}" text-anchor="middle">${row.workflows.toLocaleString("en-US")}</text>`,
      `<text x="${gx + bw * 1.5}" y="${y0 + 30}" text-anchor="middle" font-size="11" fill="#555">${ratios}</text>`,
    );
  });
  parts.push(
    `<text x="${x0 + 170}" y="${y0 + 48}" text-anchor="middle">workflows in the tenant (v1/v2 and v1/fields ratios below)</text>`,
    // The legend sits under the axis caption, clear of every bar and its label.
    `<rect x="${x0 - 20}" y="${y0 + 58}" width="10" height="10" fill="#c0504d"/><text x="${x0 - 6}" y="${y0 + 67}">v1 filter</text>`,
    `<rect x="${x0 + 60}" y="${y0 + 58}" width="10" height="10" fill="#4f81bd"/><text x="${x0 + 74}" y="${y0 + 67}">v2: index + BatchGet</text>`,
    `<rect x="${x0 + 215}" y="${y0 + 58}" width="10" height="10" fill="#9bbb59"/><text x="${x0 + 229}" y="${y0 + 67}">v2: index with fields</text>`,
  );
  // Right panel: items/s.
  const t = r.throughput;
  const rx = 500;
  parts.push(
    `<text x="${rx}" y="24" font-size="14" font-weight="bold">Backfill throughput${t ? `, ${t.items.toLocaleString("en-US")} items` : ""} (items/s)</text>`,
  );
  if (t) {
    const bars: [string, number, string][] = [
      ["ferry", t.itemsPerSecond.ferry, "#4f81bd"],
      ["uncond.", t.itemsPerSecond.unconditional, "#9bbb59"],
      ["raw (a)", t.itemsPerSecond.raw, "#8064a2"],
      ["naive (b)", t.itemsPerSecond.naive, "#c0504d"],
    ];
    const max = Math.max(...bars.map((b) => b[1]));
    const bw = 300 / bars.length;
    bars.forEach(([label, v, color], i) => {
      const h = (v / max) * ph;
      const bx = rx + 20 + i * bw;
      parts.push(
        `<rect x="${bx}" y="${y0 - h}" width="${bw - 16}" height="${h}" fill="${color}"/>`,
        `<text x="${bx + (bw - 16) / 2}" y="${y0 - h - 4}" text-anchor="middle" font-size="10">${v.toLocaleString("en-US")}</text>`,
        `<text x="${bx + (bw - 16) / 2}" y="${y0 + 16}" text-anchor="middle">${esc(label)}</text>`,
      );
    });
    parts.push(`<line x1="${rx + 10}" x2="${rx + 330}" y1="${y0}" y2="${y0}" stroke="#999"/>`);
  }
  const m = r.machine;
  parts.push(
    `<text x="10" y="${H - 8}" font-size="10" fill="#666">${esc(`${m.date}, ${m.cores} x ${m.cpu}, ${m.memoryGiB} GiB, node ${m.node}, ${m.engine}${r.quick ? ", QUICK RUN" : ""}`)}</text>`,
    "</svg>",
  );
  return `${parts.join("\n")}\n`;
}
