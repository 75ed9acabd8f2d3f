/**
 * What the lifecycle commands (convert, move, rollback, remove) share: flags (--actor, --events,
 * guard thresholds; open-migration.ts opens the migration and its step events), Ctrl-C that
 * stops a sweep after its current pages, and printing a step's history entry.
 */
import { DEFAULT_GUARD_OPTIONS, formatDurationMs, parseDuration } from "@ferry/core/lifecycle/options";
import type { StepEntry } from "@ferry/core/control/migration-state";
import { type Command, InvalidArgumentError } from "commander";
import { MAX_ACTOR_CHARS, MAX_REASON_CHARS, boundedText } from "../options.ts";
import { onShutdown } from "../shutdown.ts";
import { type LifecycleFlags, withMigrationFlags } from "./open-migration.ts";

export type { LifecycleFlags };

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
  return withActorFlags(withMigrationFlags(command));
}

/** Who takes a step when --actor is not given. */
export function defaultActor(env: NodeJS.ProcessEnv = process.env): string {
  return env.USER || env.USERNAME || "unknown";
}

/** --actor and --events (for commands that already have --control-table and --migrations-dir). */
export function withActorFlags(command: Command): Command {
  return command
    .option(
      "--actor <name>",
      `who takes the step, kept in the migration's history (at most ${MAX_ACTOR_CHARS} characters)`,
      boundedText(MAX_ACTOR_CHARS),
      defaultActor(),
    )
    .option("--events", EVENTS_FLAG_HELP);
}

/** --events' description (with --stage, transitions also go to the stage's EventBridge bus). */
export const EVENTS_FLAG_HELP =
  "also print every step transition as one JSON line on stdout (with --stage every transition is also published to the stage's EventBridge bus, source ferry, detail-type ferry.step)";

/** --force and --reason (guards that may be overridden). */
export function withForceFlags(command: Command, what: string): Command {
  return command
    .option("--force", `override ${what} (needs --reason)`)
    .option("--reason <text>", `why: kept in the migration's history with the step (at most ${MAX_REASON_CHARS} characters)`, boundedText(MAX_REASON_CHARS));
}

/** --max-heartbeat-age: how old the dual-write heartbeat may be to count as live. */
export function withHeartbeatFlag(command: Command): Command {
  return command.option(
    "--max-heartbeat-age <duration>",
    `a dual-write heartbeat younger than this counts as running (default ${formatDurationMs(DEFAULT_GUARD_OPTIONS.maxHeartbeatAgeMs)})`,
    durationFlag,
  );
}

/** --probe-timeout (convert): how long a liveness ping may take to come back through the dual-write. */
export function withProbeFlag(command: Command): Command {
  return command.option(
    "--probe-timeout <duration>",
    `with an older heartbeat (an idle table), write a liveness ping and wait this long for the dual-write to apply it; 0 refuses at once (default ${formatDurationMs(DEFAULT_GUARD_OPTIONS.probeTimeoutMs)})`,
    durationFlag,
  );
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
