/**
 * What the lifecycle commands (convert, move, rollback, remove) share: flags (--control-table,
 * --migrations-dir, --actor, --events, guard thresholds), opening a lifecycle context (step
 * events to stdout with --events, to the stage's EventBridge bus with --stage), Ctrl-C that
 * stops a sweep after its current pages, and printing a step's history entry.
 */
import { type DynamoClients, createDynamoClients, defaultMigrationsDir, loadMigration, type Migration } from "@ferry/core";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { eventBridgePublisher } from "@ferry/core/lifecycle/event-bridge";
import { type StepListener, jsonLineListener } from "@ferry/core/lifecycle/events";
import { lifecycleContext } from "@ferry/core/lifecycle/lifecycle";
import { DEFAULT_GUARD_OPTIONS, type GuardOptions, formatDurationMs, parseDuration } from "@ferry/core/lifecycle/options";
import type { LifecycleContext } from "@ferry/core/lifecycle/phase";
import type { StepEntry } from "@ferry/core/lifecycle/phases/add";
import type { StageOutputs } from "@ferry/core/stage/outputs";
import { type Command, InvalidArgumentError } from "commander";
import { type ConnectionFlags, MAX_ACTOR_CHARS, MAX_REASON_CHARS, boundedText, tableNameFlag } from "../options.ts";
import { onShutdown } from "../shutdown.ts";

export interface LifecycleFlags extends ConnectionFlags {
  /** Filled by withStageFlag from --stage: where step events are published. */
  stageOutputs?: StageOutputs;
  controlTable?: string;
  migrationsDir?: string;
  actor: string;
  events?: boolean;
  force?: boolean;
  reason?: string;
  maxHeartbeatAge?: number;
  probeTimeout?: number;
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
  return withActorFlags(
    command
      .option("--control-table <name>", "ferry's control table (default: FERRY_CONTROL_TABLE or <table>.ferry)", tableNameFlag)
      .option("--migrations-dir <dir>", "folder of migration files (default: FERRY_MIGRATIONS_DIR or ./migrations)"),
  );
}

/** Who takes a step when --actor is not given. */
export function defaultActor(env: NodeJS.ProcessEnv = process.env): string {
  return env.USER || env.USERNAME || "unknown";
}

/** --actor and --events (for commands that already have --control-table and --migrations-dir). */
export function withActorFlags(command: Command): Command {
  return command
    .option("--actor <name>", `who takes the step, kept in the migration's history (at most ${MAX_ACTOR_CHARS} characters)`, boundedText(MAX_ACTOR_CHARS), defaultActor())
    .option("--events", EVENTS_FLAG_HELP);
}

/** --events' description (with --stage, transitions also go to the stage's EventBridge bus). */
export const EVENTS_FLAG_HELP =
  "also print every step transition as one JSON line on stdout (with --stage every transition is also published to the stage's EventBridge bus, source ferry, detail-type ferry.step)";

/** How step-event publishing gets its EventBridge client (tests answer its commands at the middleware). */
export const eventClients = { eventBridge: (region: string): EventBridgeClient => new EventBridgeClient({ region }) };

/** A command's step listeners and what to await before it exits. */
export interface StepListeners {
  listeners: StepListener[];
  /** Waits until the stage's bus has every event (or a warning said which were lost); never rejects. */
  flush(): Promise<void>;
}

/**
 * The listeners the flags ask for: `--events` prints JSON lines; `--stage` publishes to the
 * stage's bus (Storage output EventBusName; a stage deployed before it existed gets a warning).
 */
export function stepListeners(flags: { events?: boolean; stageOutputs?: StageOutputs }): StepListeners {
  const listeners: StepListener[] = flags.events ? [jsonLineListener()] : [];
  const stage = flags.stageOutputs;
  if (!stage) return { listeners, flush: async () => undefined };
  if (!stage.eventBusName) {
    process.stderr.write(`Warning: stage ${stage.stage} has no EventBusName output (deployed before step events existed): step events are not published. Redeploy with \`npx sst deploy --stage ${stage.stage}\`.\n`);
    return { listeners, flush: async () => undefined };
  }
  const client = eventClients.eventBridge(stage.region);
  const publisher = eventBridgePublisher({ client, eventBusName: stage.eventBusName, ...(stage.tableArn ? { resources: [stage.tableArn] } : {}) });
  return {
    listeners: [...listeners, publisher.listener],
    flush: async () => {
      await publisher.flush();
      client.destroy();
    },
  };
}

/** --force and --reason (guards that may be overridden). */
export function withForceFlags(command: Command, what: string): Command {
  return command.option("--force", `override ${what} (needs --reason)`).option("--reason <text>", `why: kept in the migration's history with the step (at most ${MAX_REASON_CHARS} characters)`, boundedText(MAX_REASON_CHARS));
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

export interface OpenedLifecycle {
  ctx: LifecycleContext;
  /** Sends the step events still queued for the stage's bus, then disconnects: await it before exiting. */
  close(): Promise<void>;
}

/** Loads the migration, connects, and builds the context the flags describe. */
export async function openLifecycle(ref: string, opts: LifecycleFlags): Promise<OpenedLifecycle> {
  const migration = await loadMigration(ref, opts.migrationsDir ?? defaultMigrationsDir());
  const clients = createDynamoClients({ endpoint: opts.endpoint, region: opts.region });
  const events = stepListeners(opts);
  const ctx = lifecycleOf({ clients, tableName: opts.table, migration, ...(opts.controlTable ? { controlTable: opts.controlTable } : {}) }, opts, events.listeners);
  return {
    ctx,
    close: async () => {
      clients.raw.destroy();
      await events.flush();
    },
  };
}

/**
 * The lifecycle context of an already connected command (actor, guard thresholds and --events
 * from the flags). `listeners` (from stepListeners, which also publishes to a --stage's bus)
 * replace the --events default; then await their flush() before exiting.
 */
export function lifecycleOf(
  where: { clients: DynamoClients; tableName: string; controlTable?: string; migration: Migration },
  opts: Pick<LifecycleFlags, "actor" | "events" | "maxHeartbeatAge" | "probeTimeout" | "soak" | "v1Quiet">,
  listeners: StepListener[] = opts.events ? [jsonLineListener()] : [],
): LifecycleContext {
  const guards: Partial<GuardOptions> = {
    ...(opts.maxHeartbeatAge !== undefined ? { maxHeartbeatAgeMs: opts.maxHeartbeatAge } : {}),
    ...(opts.probeTimeout !== undefined ? { probeTimeoutMs: opts.probeTimeout } : {}),
    ...(opts.soak !== undefined ? { soakMs: opts.soak } : {}),
    ...(opts.v1Quiet !== undefined ? { v1QuietWindowMs: opts.v1Quiet } : {}),
  };
  return lifecycleContext({
    ...where,
    actor: opts.actor,
    guards,
    ...(listeners.length ? { listeners } : {}),
  });
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
