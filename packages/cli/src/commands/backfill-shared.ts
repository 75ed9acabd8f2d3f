/**
 * What the backfill commands (convert, resume, pause, abort, backfill-status) share: their
 * flags, the control context, following a running backfill with a progress bar and
 * Ctrl-C-to-pause, and the summary printed at the end.
 */
import { appendFileSync } from "node:fs";
import { hostname } from "node:os";
import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import { type DynamoClients, FerryError, UsageError, createDynamoClients, defaultMigrationsDir, loadMigration } from "@ferry/core";
import { type ConversionResult, type ConvertContext, NoBackfillError, conversionStatus, requestStop } from "@ferry/core/backfill/control";
import { type BackfillRun, FAILURE_SK_PREFIX } from "@ferry/core/backfill/state";
import { formatCount, formatDuration } from "@ferry/core/design/format";
import { defaultControlTableName, migrationPk } from "@ferry/core/state/control-table";
import { sleep } from "@ferry/core/util/backoff";
import { type Command, Option } from "commander";
import { type ConnectionFlags, parseInteger } from "../options.ts";
import { printJson, table } from "../output.ts";
import { isShuttingDown, onShutdown, untilSignal } from "../shutdown.ts";

export interface BackfillFlags extends ConnectionFlags {
  controlTable?: string;
  migrationsDir?: string;
  leaseMs?: number;
}

/** Failed items listed after a run (all are in the control table). */
export const FAILURES_SHOWN = 20;
export const POLL_MS = 500;

/** Adds --control-table, --migrations-dir and the hidden --lease-ms. */
export function withBackfillFlags(command: Command): Command {
  return command
    .option("--control-table <name>", "ferry's control table (default: FERRY_CONTROL_TABLE or <table>.ferry)")
    .option("--migrations-dir <dir>", "folder of migration files (default: FERRY_MIGRATIONS_DIR or ./migrations)")
    .addOption(new Option("--lease-ms <ms>", "backfill lock lease; a crashed run's lock lapses after it").argParser(parseInteger(500, 600_000)).hideHelp());
}

export interface OpenedContext {
  ctx: ConvertContext;
  clients: DynamoClients;
  /** This process's lock owner name. */
  owner: string;
  close(): void;
}

/** Loads the migration and connects; FERRY_BACKFILL_TRACE=<file> appends one JSON line per converted page. */
export async function openContext(ref: string, opts: BackfillFlags): Promise<OpenedContext> {
  const migration = await loadMigration(ref, opts.migrationsDir ?? defaultMigrationsDir());
  const clients = createDynamoClients({ endpoint: opts.endpoint, region: opts.region });
  const trace = process.env.FERRY_BACKFILL_TRACE;
  const ctx: ConvertContext = {
    clients,
    tableName: opts.table,
    controlTable: opts.controlTable ?? defaultControlTableName(opts.table),
    migration,
    // Synchronous append: the line is on disk before the checkpoint save, even if the process is killed next.
    ...(trace ? { onPage: (t) => appendFileSync(trace, `${JSON.stringify({ ...t, pid: process.pid })}\n`) } : {}),
  };
  return { ctx, clients, owner: `${hostname()}:${process.pid}`, close: () => clients.raw.destroy() };
}

/** The run ended without completing (failed, paused or aborted from elsewhere) or with items it could not convert. */
export class BackfillNotCompletedError extends FerryError {
  constructor(
    readonly migrationId: string,
    readonly run: BackfillRun,
    readonly failedItems: number,
  ) {
    super(notCompletedMessage(migrationId, run, failedItems));
  }
}

function notCompletedMessage(id: string, run: BackfillRun, failedItems: number): string {
  switch (run.status) {
    case "failed":
      return `The backfill of ${id} failed: ${run.lastError?.name ?? "Error"}: ${run.lastError?.message ?? "unknown"}. Fix the cause, then \`ferry resume ${id}\` continues from the checkpoints.`;
    case "paused":
      return `The backfill of ${id} was paused (\`ferry pause\`); \`ferry resume ${id}\` continues it.`;
    case "aborted":
      return `The backfill of ${id} was aborted (\`ferry abort\`); records written so far stay. \`ferry convert ${id}\` starts a new run.`;
    default:
      return `The backfill of ${id} finished, but ${failedItems} source item(s) could not be converted (listed above, and in the control table under ${FAILURE_SK_PREFIX}). Fix them, then run \`ferry convert ${id}\` again.`;
  }
}

/** A backfill that was aborted cannot be resumed. */
export class BackfillAbortedError extends UsageError {
  constructor(readonly migrationId: string) {
    super(`The backfill of ${migrationId} was aborted and cannot be resumed; \`ferry convert ${migrationId}\` starts a new run.`);
  }
}

export interface ItemFailure {
  key: { PK: string; SK: string };
  error: string;
  message: string;
  at: number;
}

/** Items the run could not convert (schema or derive failures), the first `limit`, and how many in all. */
export async function readFailures(ctx: ConvertContext, run: BackfillRun, limit = FAILURES_SHOWN): Promise<{ items: ItemFailure[]; total: number }> {
  const items: ItemFailure[] = [];
  let total = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await ctx.clients.doc.send(
      new QueryCommand({
        TableName: ctx.controlTable,
        KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
        ExpressionAttributeValues: { ":pk": migrationPk(ctx.migration.id), ":prefix": FAILURE_SK_PREFIX },
        ExclusiveStartKey: start,
      }),
    );
    for (const item of (page.Items ?? []) as unknown as ItemFailure[]) {
      // Failure records outlive runs; a restarted run re-records the ones still failing.
      if (item.at < run.startedAt) continue;
      total++;
      if (items.length < limit) items.push({ key: item.key, error: item.error, message: item.message, at: item.at });
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return { items, total };
}

/** Maps a missing control table (nothing was ever converted with it) to NoBackfillError. */
export function missingControlTable(ctx: ConvertContext): (err: unknown) => never {
  return (err) => {
    if (err instanceof Error && err.name === "ResourceNotFoundException") throw new NoBackfillError(ctx.migration.id);
    throw err;
  };
}

/** Pauses the run this process started, once it has (a signal can come before the run record is written). */
async function pauseOwnRun(ctx: ConvertContext, owner: string, settled: () => boolean): Promise<void> {
  while (!settled()) {
    const status = await conversionStatus(ctx).catch(() => undefined);
    // Ours once we hold the lock and have written the run since taking it.
    if (status?.lock?.owner === owner && status.run && status.run.updatedAt >= status.lock.acquiredAt) {
      await requestStop(ctx, "pause").catch((err) => {
        if (!(err instanceof NoBackfillError)) throw err;
      });
      return;
    }
    await sleep(100);
  }
}

export interface FollowOptions {
  opened: OpenedContext;
  verb: string;
  json: boolean;
}

/**
 * Runs `start` (startConversion or resumeConversion) in this process with a progress bar,
 * then prints the summary. The first Ctrl-C pauses after the current pages and exits 130 once
 * the backfill stopped; a second one exits at once (the lease lapses, `ferry resume` continues).
 */
export async function followConversion(options: FollowOptions, start: () => Promise<ConversionResult>): Promise<void> {
  const { opened, verb, json } = options;
  const { ctx } = opened;
  const startedAt = Date.now();
  let settled = false;
  const running = start().finally(() => (settled = true));
  const progress = json ? undefined : startProgress(ctx, verb, () => settled);
  const unregister = onShutdown(async () => {
    process.stderr.write(
      `\nPausing ${ctx.migration.id} after the current pages (each finished page is checkpointed). Ctrl-C again exits at once; \`ferry resume ${ctx.migration.id}\` continues either way.\n`,
    );
    await pauseOwnRun(ctx, opened.owner, () => settled);
    const result = await running.catch(() => undefined);
    await progress?.stop();
    if (result) await report(opened, result, Date.now() - startedAt, json);
    process.stderr.write(`ferry: paused ${ctx.migration.id}; every finished page is checkpointed. \`ferry resume ${ctx.migration.id}\` continues it.\n`);
  });
  let result: ConversionResult;
  try {
    result = await running;
  } catch (err) {
    if (isShuttingDown()) return untilSignal();
    await progress?.stop();
    throw err;
  } finally {
    unregister();
  }
  // A signal arrived: the shutdown cleanup prints the summary and exits.
  if (isShuttingDown()) return untilSignal();
  await progress?.stop();
  const failures = await report(opened, result, Date.now() - startedAt, json);
  if (result.run.status !== "completed" || failures > 0) throw new BackfillNotCompletedError(ctx.migration.id, result.run, failures);
}

/** Prints the summary (and the first failed items); returns the number of failed items. */
async function report(opened: OpenedContext, result: ConversionResult, elapsedMs: number, json: boolean): Promise<number> {
  const failures = await readFailures(opened.ctx, result.run);
  if (json) {
    printJson({
      migrationId: opened.ctx.migration.id,
      table: opened.ctx.tableName,
      controlTable: opened.ctx.controlTable,
      ...result.run,
      totals: result.totals,
      executionsThisProcess: result.executions.length,
      elapsedMs,
      failedItems: failures,
    });
  } else {
    process.stdout.write(`${describeConversion(opened.ctx, result, elapsedMs)}\n`);
    if (failures.total > 0) process.stdout.write(`\n${describeFailures(failures)}\n`);
  }
  return failures.total;
}

/** The summary table printed after convert/resume. */
export function describeConversion(ctx: ConvertContext, result: ConversionResult, elapsedMs: number): string {
  const { run, totals } = result;
  const s = run.settings;
  const runSeconds = ((run.finishedAt ?? Date.now()) - run.startedAt) / 1000;
  const seconds = elapsedMs / 1000;
  return table([
    ["migration", ctx.migration.id],
    ["status", `${run.status}${s.dryRun ? " (dry run: nothing written)" : ""}`],
    ["run", `${run.runId} (${s.segments} segment(s), pages of ${s.pageSize}, rate cap ${formatCount(s.rate)} items/s)`],
    ["scanned", `${formatCount(totals.scanned)} item(s) of ~${formatCount(run.estimatedItems)}`],
    ["source items", formatCount(totals.sources)],
    ["converted", `${formatCount(totals.converted)}${s.dryRun ? " (would convert)" : ""}`],
    ["records written", formatCount(totals.recordsWritten)],
    ["deferred to the stream", `${formatCount(totals.deferred)} (changed after the read; dual-write converts them)`],
    ["failed items", formatCount(totals.failed)],
    ["consumed", `${formatCount(totals.consumedReadUnits)} RCU, ${formatCount(totals.consumedWriteUnits)} WCU`],
    ["executions", `${run.executions} in this run, ${result.executions.length} in this process`],
    ["time", `${formatDuration(seconds)} here (${Math.round(totals.scanned / (runSeconds || 1))} items/s over the run's ${formatDuration(runSeconds)})`],
    ...(run.lastError ? [["last error", `${run.lastError.name}: ${run.lastError.message}`]] : []),
  ]);
}

export function describeFailures(failures: { items: ItemFailure[]; total: number }): string {
  const more = failures.total > failures.items.length ? ` (first ${failures.items.length} of ${failures.total})` : "";
  return [
    `Items that could not be converted${more}:`,
    table([["PK", "SK", "reason"], ...failures.items.map((f) => [f.key.PK, f.key.SK, `${f.error}: ${oneLine(f.message)}`])]),
  ].join("\n");
}

const oneLine = (text: string) => (text.length > 160 ? `${text.slice(0, 157)}...` : text).replace(/\s+/g, " ");

/** A progress bar on stderr (terminals only), rate measured over the last seconds so live rate changes show in the ETA. */
function startProgress(ctx: ConvertContext, verb: string, settled: () => boolean): { stop(): Promise<void> } {
  if (!process.stderr.isTTY) return { stop: async () => {} };
  const samples: { at: number; scanned: number }[] = [];
  let drawn = false;
  const stopped = new AbortController();
  const loop = (async () => {
    while (!settled() && !stopped.signal.aborted) {
      const status = await conversionStatus(ctx).catch(() => undefined);
      if (status?.run && !settled()) {
        const now = Date.now();
        samples.push({ at: now, scanned: status.totals.scanned });
        while (samples.length > 2 && now - samples[0]!.at > 5_000) samples.shift();
        const first = samples[0]!;
        const rate = now > first.at ? ((status.totals.scanned - first.scanned) * 1000) / (now - first.at) : 0;
        const total = Math.max(status.run.estimatedItems, status.totals.scanned);
        const ratio = total > 0 ? status.totals.scanned / total : 0;
        const bar = "#".repeat(Math.round(ratio * 30)).padEnd(30, "-");
        const eta = rate > 0 ? formatDuration((total - status.totals.scanned) / rate) : "?";
        const capped = status.run.effectiveRate < status.run.settings.rate ? `, throttled to ${formatCount(status.run.effectiveRate)}/s` : "";
        process.stderr.write(
          `\r${verb} ${ctx.migration.id} [${bar}] ${formatCount(status.totals.scanned)}/~${formatCount(total)} ${formatCount(rate)}/s ETA ${eta}${capped}   `,
        );
        drawn = true;
      }
      await sleep(POLL_MS, stopped.signal).catch(() => undefined);
    }
  })();
  return {
    async stop() {
      stopped.abort();
      await loop.catch(() => undefined);
      if (drawn) process.stderr.write("\n");
      drawn = false;
    },
  };
}
