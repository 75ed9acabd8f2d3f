/**
 * What the lifecycle commands (move, rollback, remove) share: flags (--control-table,
 * --migrations-dir, --actor, --events, guard thresholds), opening a lifecycle context,
 * Ctrl-C that stops a sweep after its current pages, and printing a step's history entry.
 */
import { createDynamoClients, defaultMigrationsDir, loadMigration } from "@ferry/core";
import { jsonLineListener } from "@ferry/core/orchestrator/events";
import { lifecycleContext } from "@ferry/core/orchestrator/lifecycle";
import { DEFAULT_GUARD_OPTIONS, type GuardOptions, formatDurationMs, parseDuration } from "@ferry/core/orchestrator/options";
import type { LifecycleContext } from "@ferry/core/orchestrator/phase";
import type { StepEntry } from "@ferry/core/phases/add";
import { type Command, InvalidArgumentError } from "commander";
import type { ConnectionFlags } from "../options.ts";
import { onShutdown } from "../shutdown.ts";
import { defaultActor } from "./add.ts";

export interface LifecycleFlags extends ConnectionFlags {
  controlTable?: string;
  migrationsDir?: string;
  actor: string;
  events?: boolean;
  force?: boolean;
  reason?: string;
  maxHeartbeatAge?: number;
  soak?: number;
  v1Quiet?: number;
}

/** A commander parser for durations (7d, 15m, 30s). */
export function durationFlag(value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
}

/** --control-table, --migrations-dir, --actor, --events. */
export function withLifecycleFlags(command: Command): Command {
  return command
    .option("--control-table <name>", "ferry's control table (default: FERRY_CONTROL_TABLE or <table>.ferry)")
    .option("--migrations-dir <dir>", "folder of migration files (default: FERRY_MIGRATIONS_DIR or ./migrations)")
    .option("--actor <name>", "who takes the step, kept in the migration's history", defaultActor())
    .option("--events", "also print every step transition as one JSON line on stdout");
}

/** --force and --reason (guards that may be overridden). */
export function withForceFlags(command: Command, what: string): Command {
  return command.option("--force", `override ${what} (needs --reason)`).option("--reason <text>", "why: kept in the migration's history with the step");
}

/** --max-heartbeat-age: how old the dual-write heartbeat may be to count as live. */
export function withHeartbeatFlag(command: Command): Command {
  return command.option(
    "--max-heartbeat-age <duration>",
    `a dual-write heartbeat younger than this counts as running (default ${formatDurationMs(DEFAULT_GUARD_OPTIONS.maxHeartbeatAgeMs)})`,
    durationFlag,
  );
}

export interface OpenedLifecycle {
  ctx: LifecycleContext;
  close(): void;
}

/** Loads the migration, connects, and builds the context the flags describe. */
export async function openLifecycle(ref: string, opts: LifecycleFlags): Promise<OpenedLifecycle> {
  const migration = await loadMigration(ref, opts.migrationsDir ?? defaultMigrationsDir());
  const clients = createDynamoClients({ endpoint: opts.endpoint, region: opts.region });
  const guards: Partial<GuardOptions> = {
    ...(opts.maxHeartbeatAge !== undefined ? { maxHeartbeatAgeMs: opts.maxHeartbeatAge } : {}),
    ...(opts.soak !== undefined ? { soakMs: opts.soak } : {}),
    ...(opts.v1Quiet !== undefined ? { v1QuietWindowMs: opts.v1Quiet } : {}),
  };
  const ctx = lifecycleContext({
    clients,
    tableName: opts.table,
    migration,
    actor: opts.actor,
    guards,
    ...(opts.controlTable ? { controlTable: opts.controlTable } : {}),
    ...(opts.events ? { listeners: [jsonLineListener()] } : {}),
  });
  return { ctx, close: () => clients.raw.destroy() };
}

/** `--force`/`--reason` as the orchestrator takes them. */
export function forceOf(opts: LifecycleFlags): { force?: boolean; reason?: string } {
  return { ...(opts.force ? { force: true } : {}), ...(opts.reason ? { reason: opts.reason } : {}) };
}

/** Runs `work` with an AbortSignal that Ctrl-C fires (the sweep stops after its current pages, checkpointed). */
export async function stoppable<T>(what: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let running: Promise<unknown> = Promise.resolve();
  const unregister = onShutdown(async () => {
    process.stderr.write(`\nStopping ${what} after the current pages (each finished page is checkpointed); run the command again to continue.\n`);
    controller.abort();
    await running.catch(() => undefined);
  });
  try {
    const promise = work(controller.signal);
    running = promise;
    return await promise;
  } finally {
    unregister();
  }
}

/** One history entry as text: "move by ana at 2026-... (forced: verify-clean; reason: ...)". */
export function describeEntry(entry: StepEntry | undefined): string {
  if (!entry) return "-";
  const extra = [entry.forced?.length ? `forced: ${entry.forced.join(", ")}` : "", entry.reason ? `reason: ${entry.reason}` : ""].filter(Boolean).join("; ");
  return `${entry.step}${entry.event && entry.event !== "start" ? ` ${entry.event}` : ""} by ${entry.actor} at ${entry.at}${extra ? ` (${extra})` : ""}`;
}
