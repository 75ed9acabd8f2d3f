/**
 * The scale model: how a conversion of 10^6 to 10^9 source items grows on AWS (segments,
 * executions, history events, Lambda concurrency, write units, duration, on-demand cost),
 * which AWS limit binds first, and how ferry stays under each. A model, multiplied out from
 * the measured per-item capacity (`ferry plan`'s AWS model) and a per-segment rate measured
 * with the network model; its small end is checked against the run it is calibrated on.
 */
import { DEFAULT_BACKFILL_SETTINGS, onDemandCost } from "@ferry/core";
import { HISTORY_EVENT_LIMIT, HISTORY_EVENTS_PER_PAGE } from "@ferry/core/backfill/settings";

/** AWS limits the model checks against (defaults of a fresh account, us-east-1). */
export const AWS_LIMITS = {
  /** An inline Map runs at most 40 iterations at once; more segments wait their turn. */
  inlineMapConcurrency: 40,
  /** Events in one Standard execution's history. */
  historyEvents: HISTORY_EVENT_LIMIT,
  /** One Lambda invocation; a page task is one invocation. */
  lambdaTimeoutSeconds: 15 * 60,
  /** On-demand table throughput quota (write request units per second), default. */
  tableWriteUnitsPerSecond: 40_000,
  /** One partition accepts 1,000 write units per second. */
  partitionWriteUnitsPerSecond: 1_000,
  /** Concurrent Lambda executions of the account, default. */
  accountLambdaConcurrency: 1_000,
} as const;

export interface ScaleInputs {
  /** Write units per source item on AWS (the plan's model). */
  writeUnitsPerItem: number;
  /** Read units per source item (the eventually consistent Scan and the validation read). */
  readUnitsPerItem: number;
  /** Source items one segment converts per second (measured with the network model). */
  segmentItemsPerSecond: number;
  /** Seconds one page task takes (measured). */
  pageSeconds: number;
  /** Share of the table's write quota the backfill may take (the application keeps the rest). */
  tableShare: number;
  pageSize: number;
  maxPagesPerExecution: number;
}

export interface ScaleRow {
  items: number;
  segments: number;
  itemsPerSecond: number;
  writeUnitsPerSecond: number;
  pages: number;
  executions: number;
  historyEventsPerExecution: number;
  lambdaConcurrency: number;
  writeUnits: number;
  durationHours: number;
  costUsd: number;
  binds: string;
}

/**
 * One row per size: the rate is the table budget (tableShare of the quota) divided by the
 * write units per item; segments are what that rate needs at the measured per-segment rate,
 * capped by the inline Map's concurrency, which then binds instead.
 */
export function scaleModel(sizes: number[], x: ScaleInputs): ScaleRow[] {
  const budgetRate = (AWS_LIMITS.tableWriteUnitsPerSecond * x.tableShare) / x.writeUnitsPerItem;
  const wanted = Math.ceil(budgetRate / x.segmentItemsPerSecond);
  const segments = Math.min(AWS_LIMITS.inlineMapConcurrency, Math.max(1, wanted));
  const itemsPerSecond = Math.min(budgetRate, segments * x.segmentItemsPerSecond);
  const binds =
    wanted > AWS_LIMITS.inlineMapConcurrency
      ? `inline Map concurrency (${AWS_LIMITS.inlineMapConcurrency} segments at once)`
      : `table write quota (${Math.round(x.tableShare * 100)}% of ${AWS_LIMITS.tableWriteUnitsPerSecond.toLocaleString("en-US")} WCU/s)`;
  return sizes.map((items) => {
    const pages = Math.ceil(items / x.pageSize);
    const executions = Math.ceil(pages / x.maxPagesPerExecution);
    const writeUnits = items * x.writeUnitsPerItem;
    return {
      items,
      segments,
      itemsPerSecond: Math.round(itemsPerSecond),
      writeUnitsPerSecond: Math.round(itemsPerSecond * x.writeUnitsPerItem),
      pages,
      executions,
      historyEventsPerExecution: Math.min(pages, x.maxPagesPerExecution) * HISTORY_EVENTS_PER_PAGE,
      lambdaConcurrency: segments,
      writeUnits,
      durationHours: items / itemsPerSecond / 3600,
      costUsd: onDemandCost(writeUnits, items * x.readUnitsPerItem).totalUsd,
      binds,
    };
  });
}

/** The sizes the README's model shows. */
export const SCALE_SIZES = [1e6, 1e7, 1e8, 1e9];

export const DEFAULT_SCALE_INPUTS: Omit<ScaleInputs, "writeUnitsPerItem" | "readUnitsPerItem" | "segmentItemsPerSecond" | "pageSeconds"> = {
  tableShare: 0.5,
  pageSize: DEFAULT_BACKFILL_SETTINGS.pageSize,
  maxPagesPerExecution: DEFAULT_BACKFILL_SETTINGS.maxPagesPerExecution,
};

const n = (x: number) => x.toLocaleString("en-US");
const hours = (h: number) => (h < 1 ? `${Math.round(h * 60)} min` : h < 48 ? `${Math.round(h * 10) / 10} h` : `${Math.round((h / 24) * 10) / 10} d`);

/** The model as markdown: the table and the limits that do not bind, with why. */
export function scaleMarkdown(
  rows: ScaleRow[],
  x: ScaleInputs,
  check?: { items: number; predictedExecutions: number; executions: number; predictedReadUnits: number; readUnits: number },
): string {
  const lines = [
    `Scale model (AWS, on-demand, us-east-1): ${x.writeUnitsPerItem} write units and ${x.readUnitsPerItem} read units per source item (the plan's model), one segment converting ${n(Math.round(x.segmentItemsPerSecond))} items/s and a page taking ${Math.round(x.pageSeconds * 1000)} ms (measured with the network model's largest delay), the backfill allowed ${Math.round(x.tableShare * 100)}% of the table's default write quota:`,
    "",
    "| source items | segments | items/s | WCU/s | pages | executions | history events / execution | Lambda concurrency | write units | duration | on-demand cost | binds first |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${n(r.items)} | ${r.segments} | ${n(r.itemsPerSecond)} | ${n(r.writeUnitsPerSecond)} | ${n(r.pages)} | ${n(r.executions)} | ${n(r.historyEventsPerExecution)} (limit ${n(AWS_LIMITS.historyEvents)}) | ${r.lambdaConcurrency} (account ${n(AWS_LIMITS.accountLambdaConcurrency)}) | ${n(r.writeUnits)} | ${hours(r.durationHours)} | $${n(Math.round(r.costUsd))} | ${r.binds} |`,
    ),
    "",
    `Limits that do not bind: history events (ferry continues as a new execution every ${n(x.maxPagesPerExecution)} pages, ~${n(x.maxPagesPerExecution * HISTORY_EVENTS_PER_PAGE)} events), the 15-minute Lambda timeout (a page task is one invocation of ~${Math.round(x.pageSeconds * 1000)} ms), account Lambda concurrency (one page Lambda per segment). A hot partition can bind before the table: one partition takes ${n(AWS_LIMITS.partitionWriteUnitsPerSecond)} WCU/s, and a Scan segment holds whole item collections, so a tenant with most of the items keeps one segment busy (ferry's rate cap and throttling backoff keep it under; it cannot make it parallel).`,
  ];
  if (check) {
    lines.push(
      "",
      `Small end checked against this run (${n(check.items)} items): executions ${check.predictedExecutions} predicted, ${check.executions} run; read units ${n(Math.round(check.predictedReadUnits))} predicted, ${n(Math.round(check.readUnits))} consumed.`,
    );
  }
  return lines.join("\n");
}
