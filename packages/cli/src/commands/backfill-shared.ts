/**
 * What the backfill commands (convert, resume, pause, abort, backfill-status) share: their
 * flags (with open-migration.ts's), following a running backfill with a progress bar and
 * Ctrl-C-to-pause, and the summary printed at the end.
 */
import { type KeySchema, keyOf, keyText } from "@ferry/core/dynamo/key-schema";
import { type ConversionResult, type ConvertContext, NoBackfillError, conversionStatus, requestStop } from "@ferry/core/backfill/control";
import { BackfillNotCompletedError, ExecutionEndedError } from "@ferry/core/backfill/errors";
import type { BackfillDescription, BackfillRuntime, RuntimeOutcome } from "@ferry/core/backfill/runtime";
import { type BackfillRun, type ItemFailure, readItemFailures } from "@ferry/core/backfill/state";
import { isMissingTable } from "@ferry/core/dynamo/missing-table";
import { formatCount, formatDuration } from "@ferry/core/design/format";
import { sleep } from "@ferry/core/util/backoff";
import { type Command, Option } from "commander";
import { parseInteger } from "../options.ts";
import { printJson, table } from "../output.ts";
import { isShuttingDown, onShutdown, untilSignal } from "../shutdown.ts";
import { type MigrationFlags, type OpenedMigration, withMigrationFlags } from "./open-migration.ts";

export type BackfillFlags = MigrationFlags;

/** Failed items listed after a run (all are in the control table). */
export const FAILURES_SHOWN = 20;
export const POLL_MS = 500;

/** Adds --control-table, --migrations-dir and the hidden --lease-ms. */
export function withBackfillFlags(command: Command): Command {
  return withMigrationFlags(command).addOption(
    new Option("--lease-ms <ms>", "backfill lock lease; a crashed run's lock lapses after it").argParser(parseInteger(500, 600_000)).hideHelp(),
  );
}

export type { ItemFailure };

/** Items the run could not convert (schema or derive failures), the first `limit`, and how many in all. */
export function readFailures(ctx: ConvertContext, run: BackfillRun, limit = FAILURES_SHOWN): Promise<{ items: ItemFailure[]; total: number }> {
  return readItemFailures(
    { doc: ctx.clients.doc, controlTable: ctx.controlTable, migrationId: ctx.migration.id, dryRun: ctx.dryRun === true },
    run.startedAt,
    limit,
  );
}

/** Maps a missing control table (nothing was ever converted with it) to NoBackfillError. */
export function missingControlTable(ctx: ConvertContext): (err: unknown) => never {
  return (err) => {
    if (isMissingTable(err)) throw new NoBackfillError(ctx.migration.id);
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
  opened: OpenedMigration;
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

/** The result of a run the in-process runtime ran to its end. */
export function resultOf(outcome: RuntimeOutcome): ConversionResult {
  if (!outcome.result) throw new Error(`run ${outcome.run.runId} did not run in this process`);
  return outcome.result;
}

/** How often a stage's run is polled (control table + DescribeExecution) while following it. */
export const STAGE_POLL_MS = 2_000;

/**
 * Against a stage: runs `start` (StartExecution) and returns, printing where the backfill
 * runs and how to follow it; with --wait it follows the control table and DescribeExecution
 * with the progress bar until the run ends, then calls `onEnded` (convert records its step
 * complete) and prints the summary. Ctrl-C only stops following: the execution goes on.
 */
export async function followStarted(
  options: FollowOptions & { wait: boolean; onEnded?: (run: BackfillRun) => Promise<unknown> },
  start: () => Promise<RuntimeOutcome>,
): Promise<void> {
  const { opened, verb, json, wait } = options;
  const { ctx, runtime } = opened;
  const id = ctx.migration.id;
  const stage = opened.stage?.stage ?? "?";
  const startedAt = Date.now();
  const outcome = await start();
  if (!wait) {
    if (json) return printJson({ migrationId: id, stage, ...outcome.run, executionArn: outcome.executionArn ?? null });
    process.stdout.write(
      `Started the backfill of ${id} on stage ${stage}: run ${outcome.run.runId}, execution ${outcome.executionArn}.\n` +
        `It runs on AWS: \`ferry status ${id} --stage ${stage}\` shows its progress (or add --wait to follow it here); ` +
        `\`ferry pause ${id} --stage ${stage}\` stops it.\n`,
    );
    return;
  }
  let settled = false;
  const progress = json ? undefined : startProgress(ctx, verb, () => settled);
  const unregister = onShutdown(async () => {
    settled = true;
    await progress?.stop();
    process.stderr.write(`\nStopped following ${id}; its execution goes on on stage ${stage}. \`ferry pause ${id} --stage ${stage}\` stops it.\n`);
  });
  let final: BackfillDescription;
  try {
    final = await untilEnded(runtime, ctx);
  } finally {
    settled = true;
    unregister();
    await progress?.stop();
  }
  if (final.stale && final.execution) throw new ExecutionEndedError(id, stage, final.execution);
  await options.onEnded?.(final.run as BackfillRun);
  const result: ConversionResult = { run: final.run as BackfillRun, totals: final.totals, executions: [] };
  const failures = await report(opened, result, Date.now() - startedAt, json);
  if (result.run.status !== "completed" || failures > 0) throw new BackfillNotCompletedError(id, result.run, failures);
}

/** Polls until the run is no longer running, or its execution ended without it (stale). */
async function untilEnded(runtime: BackfillRuntime, ctx: ConvertContext): Promise<BackfillDescription> {
  for (;;) {
    const now = await runtime.describe(ctx);
    if (!now.run) throw new NoBackfillError(ctx.migration.id);
    if (now.run.status !== "running" || now.stale) return now;
    await sleep(STAGE_POLL_MS);
  }
}

/** Prints the summary (and the first failed items); returns the number of failed items. */
async function report(opened: OpenedMigration, result: ConversionResult, elapsedMs: number, json: boolean): Promise<number> {
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
    if (failures.total > 0) process.stdout.write(`\n${describeFailures(failures, opened.ctx.migration.keys)}\n`);
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
    ["repaired after the read", `${formatCount(totals.repaired ?? 0)} (changed while their page wrote; put right under a condition)`],
    ["failed items", formatCount(totals.failed)],
    ["consumed", `${formatCount(totals.consumedReadUnits)} RCU, ${formatCount(totals.consumedWriteUnits)} WCU`],
    ["executions", `${run.executions} in this run, ${result.executions.length} in this process`],
    ["time", `${formatDuration(seconds)} here (${Math.round(totals.scanned / (runSeconds || 1))} items/s over the run's ${formatDuration(runSeconds)})`],
    ...(run.lastError ? [["last error", `${run.lastError.name}: ${run.lastError.message}`]] : []),
  ]);
}

/** `keys` puts each key in the table's order (a stored key's attributes come back in any order). */
export function describeFailures(failures: { items: ItemFailure[]; total: number }, keys?: KeySchema): string {
  const more = failures.total > failures.items.length ? ` (first ${failures.items.length} of ${failures.total})` : "";
  return [
    `Items that could not be converted${more}:`,
    table([["key", "reason"], ...failures.items.map((f) => [keyText(keys ? keyOf(keys, f.key) : f.key), `${f.error}: ${oneLine(f.message)}`])]),
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
