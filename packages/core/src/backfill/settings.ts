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
}

export const DEFAULT_BACKFILL_SETTINGS: BackfillSettings = {
  segments: 4,
  pageSize: 100,
  rate: 1_000,
  dryRun: false,
  maxPagesPerExecution: 3_000,
  maxDualWriteLagMs: 5_000,
};

/** Estimated history events per page (see maxPagesPerExecution). */
export const HISTORY_EVENTS_PER_PAGE = 7;
export const HISTORY_EVENT_LIMIT = 25_000;
