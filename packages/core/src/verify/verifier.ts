/**
 * `ferry verify`: checks, exactly, that the records stamped by a migration are the union
 * of what derive makes of the current source items. It streams the table (parallel Scan
 * segments, consistent pages) keeping only counters and a few examples, so memory stays
 * bounded on any table; with `repair` it fixes what it finds with guarded transactions.
 */
import { DescribeTableCommand, type DescribeTableCommandOutput, type TableDescription } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { DynamoClients } from "../aws/dynamodb.ts";
import type { Migration } from "../definition/define-migration.ts";
import { withTableKeys } from "../definition/table-keys.ts";
import { keySchemaOf } from "../dynamo/key-schema.ts";
import { TableNotFoundError, isMissingTable } from "../dynamo/missing-table.ts";
import { FerryError, UsageError } from "../errors.ts";
import { type BackoffOptions, DEFAULT_BACKOFF } from "../util/backoff.ts";
import { verifyPage } from "./page.ts";
import type { ReadStats } from "../dynamo/batch-get.ts";
import { type RepairCounts, ZERO_REPAIRS } from "./repair.ts";
import { recheckUntilClean, rereadSuspects } from "./recheck.ts";
import { VERIFY_DEFECTS, type VerifyCounts, type VerifyDefect, type VerifyExample, VerifyTally } from "./tally.ts";

export { VERIFY_DEFECTS, type VerifyCounts, type VerifyDefect, type VerifyExample } from "./tally.ts";
export type { RepairCounts } from "./repair.ts";

export interface VerifyOptions {
  /** Parallel Scan segments. */
  segments: number;
  /** Items per Scan page (Limit; a page also stops at 1 MB); each page's BatchGets follow it. */
  pageSize: number;
  /** Examples kept per kind of defect. */
  examples: number;
  /** Fix what is found (a second scan): put missing and different records, delete orphans (guarded, see verify-repair.ts). */
  repair: boolean;
  backoff: BackoffOptions;
  /**
   * Under live writes a scan meets changes the dual-write has not applied yet. When > 0, the
   * items behind the defects found are re-read and re-judged after this delay (up to
   * `rechecks` times): only defects that persist are reported. 0 reports the scan as found.
   */
  recheckAfterMs: number;
  rechecks: number;
  /** Called after each page with the running counters of the pass ("repair": the second scan of a repair). */
  onPage?: (counts: Readonly<VerifyCounts>, pass: "verify" | "repair") => void;
}

export const DEFAULT_VERIFY_OPTIONS: VerifyOptions = {
  segments: 4,
  pageSize: 500,
  examples: 10,
  repair: false,
  backoff: DEFAULT_BACKOFF,
  recheckAfterMs: 0,
  rechecks: 3,
};

/** Items remembered for a recheck; a table with more defects than this is reported as scanned. */
export const MAX_RECHECK_SUSPECTS = 10_000;

/** The outcome of a verify run. `clean` describes the table as found, before any repair. */
export interface VerifyReport extends VerifyCounts {
  migrationId: string;
  tableName: string;
  segments: number;
  pageSize: number;
  /** The first examples of each kind of defect, ordered by kind then key. */
  examples: VerifyExample[];
  clean: boolean;
  elapsedMs: number;
  consumedReadUnits: number;
  consumedWriteUnits: number;
  /** With `recheckAfterMs`: defects found by the scan, before the rechecks settled them. */
  beforeRecheck?: { missing: number; orphans: number; different: number; invalidSources: number; rechecks: number };
  /** With `repair`: records put, deleted, and left alone (changed meanwhile or a collision to resolve by hand), by the second scan. */
  repaired?: RepairCounts;
  /** Kind attributes with an `index`: sampled index keys, and those whose Query did not return the expected items (then `clean` is false). */
  index?: IndexCheck;
}

/** verify's check that a global secondary index answers: one Query per sampled index key. */
export interface IndexCheck {
  name: string;
  /** Index partition-key values queried. */
  sampled: number;
  /** Of them, the ones whose Query returned other items than derive(current items) puts under it, after the retries. */
  mismatched: number;
  /** Queries sent, retries included (a GSI is eventually consistent). */
  queries: number;
  examples: string[];
}

export class InvalidVerifyOptionsError extends UsageError {
  constructor(readonly problems: string[]) {
    super(`Invalid verify options:\n  - ${problems.join("\n  - ")}`);
  }
}

/** The table does not hold exactly what the migration derives; carries the report. */
export class VerifyFailedError extends FerryError {
  constructor(readonly report: VerifyReport) {
    const found = (Object.keys(VERIFY_DEFECTS) as VerifyDefect[])
      .map((kind) => [kind, countOf(report, kind)] as const)
      .filter(([, n]) => n > 0)
      .map(([kind, n]) => `${n} ${kind === "invalidSource" ? "invalid source item(s)" : `${kind} record(s)`}`);
    super(
      `${report.tableName} is not consistent with ${report.migrationId}: ${found.join(", ")}. ` +
        (report.invalidSources > 0 ? "Fix or widen the schema for the invalid source items; " : "") +
        `run \`ferry verify ${report.migrationId} --repair\` to fix the records.`,
    );
  }
}

/** The count of one kind of defect in a report. */
export function countOf(report: VerifyCounts, kind: VerifyDefect): number {
  return kind === "orphan" ? report.orphans : kind === "invalidSource" ? report.invalidSources : report[kind];
}

/** Refuses options out of range (InvalidVerifyOptionsError); every kind's verify calls it. */
export function validateVerifyOptions(o: VerifyOptions): void {
  const problems: string[] = [];
  const int = (name: "segments" | "pageSize" | "examples", min: number, max: number) => {
    if (!Number.isInteger(o[name]) || o[name] < min || o[name] > max) problems.push(`${name} must be an integer from ${min} to ${max} (got ${o[name]})`);
  };
  int("segments", 1, 1_000);
  int("pageSize", 1, 1_000);
  int("examples", 0, 10_000);
  if (problems.length > 0) throw new InvalidVerifyOptionsError(problems);
}

/** Which table a scan pass reads and what its pages hold (kind "table": the source's sources, the target's records). */
export interface ScanSide {
  /** The table scanned (default: the source table). */
  scanTable?: string;
  side?: "sources" | "records";
  /** Counts into this tally (a second side of the same verify) instead of a new one. */
  tally?: VerifyTally;
}

/** One full scan; with `repairs`, each page fixes what it finds. */
export async function scanPass(
  doc: DynamoDBDocumentClient,
  tableName: string,
  migration: Migration,
  o: VerifyOptions,
  stats: ReadStats,
  repairs?: RepairCounts,
  scan: ScanSide = {},
): Promise<VerifyTally> {
  const tally = scan.tally ?? new VerifyTally(o.examples, o.recheckAfterMs > 0 && !repairs ? MAX_RECHECK_SUSPECTS : 0);
  const scanTable = scan.scanTable ?? tableName;
  const ctx = { doc, tableName, migration, tally, backoff: o.backoff, stats, ...(repairs ? { repairs } : {}), ...(scan.side ? { side: scan.side } : {}) };
  let stop = false;
  const segment = async (index: number) => {
    let start: Record<string, unknown> | undefined;
    do {
      const page = await doc.send(
        new ScanCommand({
          TableName: scanTable,
          Segment: index,
          TotalSegments: o.segments,
          Limit: o.pageSize,
          ExclusiveStartKey: start,
          ConsistentRead: true,
          ReturnConsumedCapacity: "TOTAL",
        }),
      );
      stats.consumedReadUnits += page.ConsumedCapacity?.CapacityUnits ?? 0;
      await verifyPage(ctx, page.Items ?? []);
      o.onPage?.(tally.counts, repairs ? "repair" : "verify");
      start = page.LastEvaluatedKey;
    } while (start && !stop);
  };
  const outcomes = await Promise.allSettled(
    Array.from({ length: o.segments }, (_, i) =>
      segment(i).catch((err) => {
        // One failing segment stops the others after their current page.
        stop = true;
        throw err;
      }),
    ),
  );
  const failure = outcomes.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failure) {
    if (isMissingTable(failure.reason)) throw new TableNotFoundError(scanTable);
    throw failure.reason;
  }
  return tally;
}

/** What a verify run starts from: the options filled in and checked, its counters, and the table described and bound. */
export interface OpenedVerify {
  o: VerifyOptions;
  started: number;
  stats: ReadStats;
  /** The source table as DescribeTable returned it (an attributes migration reads its index from it). */
  described: TableDescription;
  /** Bound to the table's key schema. */
  migration: Migration;
}

/**
 * The start every kind's verify that reads one table shares: a missing table is
 * TableNotFoundError and a table keyed otherwise is refused (KeySchemaMismatchError) before
 * any item is read, since it holds nothing verify could judge: never "clean".
 */
export async function openVerify(
  clients: Pick<DynamoClients, "doc">,
  tableName: string,
  migration: Migration,
  options: Partial<VerifyOptions>,
): Promise<OpenedVerify> {
  const o: VerifyOptions = { ...DEFAULT_VERIFY_OPTIONS, ...options };
  validateVerifyOptions(o);
  const started = Date.now();
  // The document client sends a plain DescribeTable as is (it only translates item commands).
  const described = await clients.doc.send(new DescribeTableCommand({ TableName: tableName }) as never).then(
    (out) => (out as DescribeTableCommandOutput).Table,
    (err: unknown) => {
      if (isMissingTable(err)) throw new TableNotFoundError(tableName);
      throw err;
    },
  );
  if (!described) throw new TableNotFoundError(tableName);
  return {
    o,
    started,
    stats: { consumedReadUnits: 0, consumedWriteUnits: 0 },
    described,
    migration: withTableKeys(migration, keySchemaOf(described, tableName), tableName),
  };
}

/**
 * Verifies the records of a `records` migration in `tableName` (every kind's entry point is
 * verify-migration.ts). With `repair`, a table found not
 * clean is scanned a second time to fix it: counting first keeps the counts exact, since
 * a repair on one page would change what a later page sees.
 */
export async function verifyRecords(
  clients: Pick<DynamoClients, "doc">,
  tableName: string,
  migration: Migration,
  options: Partial<VerifyOptions> = {},
): Promise<VerifyReport> {
  const opened = await openVerify(clients, tableName, migration, options);
  const { o, started, stats } = opened;
  migration = opened.migration;
  const scanned = await scanPass(clients.doc, tableName, migration, o, stats);
  const rereadCtx = { doc: clients.doc, tableName, migration, o, stats };
  const again = rereadSuspects(rereadCtx, scanned, MAX_RECHECK_SUSPECTS, (tally, items) =>
    verifyPage({ doc: clients.doc, tableName, migration, tally, backoff: o.backoff, stats }, items),
  );
  const { tally: found, beforeRecheck } = await recheckUntilClean(o, scanned, again, (t) => t.suspects() !== undefined);
  const c = found.counts;
  let repaired: RepairCounts | undefined;
  if (o.repair) {
    repaired = { ...ZERO_REPAIRS };
    if (c.missing + c.orphans + c.different > 0) await scanPass(clients.doc, tableName, migration, o, stats, repaired);
  }
  return {
    migrationId: migration.id,
    tableName,
    segments: o.segments,
    pageSize: o.pageSize,
    ...c,
    examples: found.examples(),
    clean: found.clean,
    elapsedMs: Date.now() - started,
    consumedReadUnits: stats.consumedReadUnits,
    consumedWriteUnits: stats.consumedWriteUnits,
    ...(beforeRecheck ? { beforeRecheck } : {}),
    ...(repaired ? { repaired } : {}),
  };
}
