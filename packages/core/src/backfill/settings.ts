/** Backfill tuning shared by `ferry convert` flags, the run record and the page tasks. */

export interface BackfillSettings {
  /** Parallel Scan segments. */
  segments: number;
  /** Items per Scan page. */
  pageSize: number;
  /** Cap across all segments, in source items per second. */
  rate: number;
  /** Scan and derive, write nothing. */
  dryRun: boolean;
  /**
   * Pages one Step Functions execution may run before continuing as a new execution.
   * Standard executions stop at 25,000 history events; a page costs about 7 events
   * (task entered/scheduled/started/succeeded/exited + choice entered/exited), so 3,000
   * pages (~21,000 events) leaves room for retries and the Map's own events.
   */
  maxPagesPerExecution: number;
  /** Slow down while dual-write lag exceeds this (ms), as gh-ost does with replica lag. */
  maxDualWriteLagMs: number;
  /**
   * How stale the run fence may be (ms): a page re-reads the run record before a transaction
   * call only when its last read is older than this, so a pause or abort stops the writes
   * within this time plus the call in progress. Keep it under the stage's abort grace (5 s).
   * Absent in runs recorded before it existed: those use the default.
   */
  fenceMaxAgeMs?: number;
}

/** An inclusive range of a tuning value. */
export interface Limit {
  min: number;
  max: number;
}

/**
 * The ranges every way of setting a backfill's tuning accepts: a migration's `options`, the
 * flags of `ferry convert`, `ferry resume` and `ferry plan`, and their --help. One set, so a
 * value one of them takes is never refused by another.
 */
export const BACKFILL_LIMITS = {
  /** Source items per second across all segments. */
  rate: { min: 1, max: 1_000_000 },
  /** Parallel Scan segments. */
  segments: { min: 1, max: 1_000 },
  /** Items per Scan page (each page is checkpointed). */
  pageSize: { min: 1, max: 1_000 },
} as const satisfies Record<string, Limit>;

/** "1 to 1,000,000", for help texts and messages. */
export function describeLimit(limit: Limit): string {
  return `${limit.min.toLocaleString("en-US")} to ${limit.max.toLocaleString("en-US")}`;
}

/** The fence staleness of runs recorded without one (see BackfillSettings.fenceMaxAgeMs). */
export const DEFAULT_FENCE_MAX_AGE_MS = 1_000;

export const DEFAULT_BACKFILL_SETTINGS: BackfillSettings = {
  segments: 4,
  pageSize: 100,
  rate: 1_000,
  dryRun: false,
  maxPagesPerExecution: 3_000,
  maxDualWriteLagMs: 5_000,
  fenceMaxAgeMs: DEFAULT_FENCE_MAX_AGE_MS,
};

/** Estimated history events per page (see maxPagesPerExecution). */
export const HISTORY_EVENTS_PER_PAGE = 7;
export const HISTORY_EVENT_LIMIT = 25_000;
