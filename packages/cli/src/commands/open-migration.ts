/**
 * Opening a migration, the one way every command that acts on one does it (add, convert,
 * resume, pause, abort, move, rollback, remove): load the migration file, connect, build the
 * backfill context and the lifecycle context from the flags, pick where the backfill runs
 * (this process, or the --stage's state machine), and the step-event listeners (--events on
 * stdout, the --stage's EventBridge bus). `close()` disconnects and sends the events still
 * queued; await it before the process ends. The flags they share are defined here once.
 */
import { appendFileSync } from "node:fs";
import { hostname } from "node:os";
import { type DynamoClients, type Migration, createDynamoClients, defaultMigrationsDir, loadMigration } from "@ferry/core";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { SFNClient } from "@aws-sdk/client-sfn";
import type { ConvertContext } from "@ferry/core/backfill/control";
import { stageRuntime } from "@ferry/core/backfill/remote";
import { type BackfillRuntime, localRuntime } from "@ferry/core/backfill/runtime";
import { eventBridgePublisher } from "@ferry/core/lifecycle/event-bridge";
import { type StepListener, jsonLineListener } from "@ferry/core/lifecycle/events";
import { lifecycleContext } from "@ferry/core/lifecycle/lifecycle";
import type { GuardOptions } from "@ferry/core/lifecycle/options";
import type { LifecycleContext } from "@ferry/core/lifecycle/phase";
import { type StageOutputs, requireStateMachineArn } from "@ferry/core/stage/outputs";
import { defaultControlTableName } from "@ferry/core/control/control-table";
import type { Command } from "commander";
import { migrationOnTable } from "@ferry/core/definition/table-keys";
import { TableNotFoundError } from "@ferry/core/dynamo/missing-table";
import { type ConnectionFlags, type StageFlags, tableFor, tableNameFlag } from "../options.ts";

/** --control-table and --migrations-dir: where the migration's records and file are. */
export interface MigrationFlags extends ConnectionFlags, StageFlags {
  controlTable?: string;
  migrationsDir?: string;
  leaseMs?: number;
}

/** Adds --control-table and --migrations-dir (every command that opens a migration has them). */
export function withMigrationFlags(command: Command): Command {
  return command
    .option("--control-table <name>", "ferry's control table (default: FERRY_CONTROL_TABLE or <table>.ferry)", tableNameFlag)
    .option("--migrations-dir <dir>", "folder of migration files (default: FERRY_MIGRATIONS_DIR or ./migrations)");
}

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

/** Flags openMigration reads: the connection and, when the command has them, the lifecycle's (--actor, --events, guard thresholds). */
export type OpenFlags = MigrationFlags & Partial<Omit<LifecycleFlags, keyof MigrationFlags>>;

export interface OpenOptions {
  /** Whether the command takes lifecycle steps and so publishes step events (default true; pause and abort do not). */
  steps?: boolean;
}

export interface OpenedMigration {
  migration: Migration;
  clients: DynamoClients;
  /** The backfill's context (FERRY_BACKFILL_TRACE=<file> appends one JSON line per converted page). */
  ctx: ConvertContext;
  /** The lifecycle's context: actor, guard thresholds and the step listeners from the flags. */
  lifecycle: LifecycleContext;
  /** Where the backfill runs: this process, or the --stage's deployed state machine. */
  runtime: BackfillRuntime;
  stage?: StageOutputs;
  listeners: StepListener[];
  /** This process's lock owner name. */
  owner: string;
  /** Disconnects, then waits until the stage's bus has every step event (never rejects). */
  close(): Promise<void>;
}

/** Loads the migration `ref` and opens everything a command needs to act on it, as the flags say. */
export async function openMigration(ref: string, flags: OpenFlags, options: OpenOptions = {}): Promise<OpenedMigration> {
  const loaded = await loadMigration(ref, flags.migrationsDir ?? defaultMigrationsDir());
  const connection = openConnection(flags, loaded);
  const migration = await bindToTable(connection, loaded);
  const events = options.steps === false ? { listeners: [], flush: async () => undefined } : stepListeners(flags);
  const trace = process.env.FERRY_BACKFILL_TRACE;
  const ctx: ConvertContext = {
    clients: connection.clients,
    tableName: connection.tableName,
    controlTable: connection.controlTable,
    migration,
    // Synchronous append: the line is on disk before the checkpoint save, even if the process is killed next.
    ...(trace ? { onPage: (t) => appendFileSync(trace, `${JSON.stringify({ ...t, pid: process.pid })}\n`) } : {}),
  };
  const lifecycle = lifecycleOf(
    { clients: connection.clients, tableName: connection.tableName, controlTable: connection.controlTable, migration },
    { actor: flags.actor ?? "unknown", ...flags },
    events.listeners,
  );
  return {
    migration,
    clients: connection.clients,
    ctx,
    lifecycle,
    runtime: connection.runtime,
    ...(connection.stage ? { stage: connection.stage } : {}),
    listeners: events.listeners,
    owner: `${hostname()}:${process.pid}`,
    close: async () => {
      connection.close();
      await events.flush();
    },
  };
}

/** A connection to the table and control table (and the --stage's state machine), without a migration. */
export interface OpenedConnection {
  clients: DynamoClients;
  tableName: string;
  controlTable: string;
  runtime: BackfillRuntime;
  stage?: StageOutputs;
  close(): void;
}

/**
 * `migration` bound to the connection's table keys (DescribeTable): a table whose keys do not
 * fit is refused here, before anything is written (KeySchemaMismatchError, exit 2). A table
 * that does not exist is left to the command, which says so in its own words.
 */
export async function bindToTable(connection: Pick<OpenedConnection, "clients" | "tableName" | "close">, migration: Migration): Promise<Migration> {
  try {
    return await migrationOnTable(connection.clients.raw, migration, connection.tableName);
  } catch (err) {
    if (err instanceof TableNotFoundError) return migration;
    connection.close();
    throw err;
  }
}

/** Connects as the flags say (with --stage, the flags were filled from the stage's outputs); the table defaults to `migration`'s (tableFor). */
export function openConnection(opts: MigrationFlags, migration?: { table: string }): OpenedConnection {
  const clients = createDynamoClients({ endpoint: opts.endpoint, region: opts.region });
  const tableName = tableFor(opts, migration);
  return {
    clients,
    tableName,
    controlTable: opts.controlTable ?? defaultControlTableName(tableName),
    runtime: runtimeFor(opts),
    ...(opts.stageOutputs ? { stage: opts.stageOutputs } : {}),
    close: () => clients.raw.destroy(),
  };
}

/** How the stage runtime gets its Step Functions client (tests answer its commands at the middleware). */
export const stageClients = { sfn: (region: string): SFNClient => new SFNClient({ region }) };

/** The runtime the flags select: the stage's state machine with --stage, else this process. */
export function runtimeFor(opts: MigrationFlags): BackfillRuntime {
  const outputs = opts.stageOutputs;
  if (!outputs) return localRuntime();
  if (!outputs.stateMachineArn) {
    // Status still works from the control table; commands that drive the state machine say what to deploy.
    const local = localRuntime();
    const missing = async (): Promise<never> => {
      requireStateMachineArn(outputs); // throws StageOutputMissingError naming the stack and what to deploy
      throw new Error("unreachable");
    };
    return { kind: "stage", inProcess: false, start: missing, resume: missing, stop: missing, describe: local.describe };
  }
  return stageRuntime({ stage: outputs.stage, stateMachineArn: outputs.stateMachineArn, sfn: stageClients.sfn(outputs.region) });
}

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
    process.stderr.write(
      `Warning: stage ${stage.stage} has no EventBusName output (deployed before step events existed): step events are not published. Redeploy with \`npx sst deploy --stage ${stage.stage}\`.\n`,
    );
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
