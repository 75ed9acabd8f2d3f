/**
 * `ferry dual-write <migration>`: runs the dual-write handler locally behind the local event
 * source mapping (same settings as the deployed one) in the foreground until Ctrl-C.
 */
import { migrationOnTable } from "@ferry/core/definition/table-keys";
import { hostname } from "node:os";
import {
  type DynamoClients,
  type Migration,
  createDynamoClients,
  defaultControlTableName,
  defaultMigrationsDir,
  describeTable,
  ensureControlTable,
  loadMigration,
} from "@ferry/core";
import { DEFAULT_EVENT_SOURCE_MAPPING_OPTIONS, startEventSourceMapping } from "@ferry/core/local/event-source-mapping";
import { controlTableCheckpoints } from "@ferry/core/local/stream-checkpoints";
import { controlTableDeadLetters } from "@ferry/core/local/stream-dead-letters";
import type { StreamHandler } from "@ferry/core/streams/lambda-event";
import type { MappingEvent, MappingStats } from "@ferry/core/local/stream-events";
import { createStreamsClient } from "@ferry/core/streams/shards";
import { readMigrationState } from "@ferry/core/control/migration-state";
import { requireDualWriteStream } from "@ferry/core/lifecycle/phases/add";
import { recordHeartbeatStop } from "@ferry/core/dualwrite/heartbeat";
import { streamSettings } from "@ferry/core/dualwrite/stream-settings";
import { createDualWriteHandler } from "@ferry/functions/dual-write";
import { Command } from "commander";
import { type ConnectionFlags, parseInteger, withConnectionFlags, tableFor } from "../options.ts";
import { isShuttingDown, onShutdown, shutdownSignal, untilSignal } from "../shutdown.ts";
import { defaultActor } from "./lifecycle-shared.ts";

interface DualWriteFlags extends ConnectionFlags {
  controlTable?: string;
  batchSize?: number;
  reportEvery: number;
  pollInterval: number;
  migrationsDir?: string;
}

export const DEFAULT_REPORT_EVERY = 10;

export function dualWriteCommand(): Command {
  const command = new Command("dual-write")
    .description("Apply the migration to every change on the table's stream, locally, until Ctrl-C (the deployed stack does this in Lambda)")
    .argument("<migration>", "migration number, name, id or file, e.g. 0001");
  withConnectionFlags(command);
  return command
    .option("--control-table <name>", "ferry's control table: checkpoints, failures, dead letters (default: FERRY_CONTROL_TABLE or <table>.ferry)")
    .option("--batch-size <n>", "stream records per invocation (default: the migration's streamBatchSize)", parseInteger(1, 1_000))
    .option("--report-every <n>", "print a progress line every n batches", parseInteger(1), DEFAULT_REPORT_EVERY)
    .option("--poll-interval <ms>", "wait after an empty read of the stream", parseInteger(1, 60_000), DEFAULT_EVENT_SOURCE_MAPPING_OPTIONS.pollIntervalMs)
    .option("--migrations-dir <dir>", "folder of migration files (default: FERRY_MIGRATIONS_DIR or ./migrations)")
    .addHelpText(
      "after",
      `
It reads the stream from the last checkpoint (the beginning the first time), with the
migration's stream settings: batch size, bisection on errors, ${"`streamMaxRetries`"} retries, then dead
letters in the control table. Stopping (Ctrl-C, SIGTERM) finishes the batch in flight and records
the stop (when, by whom) in the heartbeat, so \`ferry convert\` does not take the stopped dual-write
for a live one; the next run resumes after it.
With --json every event is printed as one JSON line.

Example:
  $ npx ferry add 0001 --endpoint http://127.0.0.1:8000
  $ npx ferry dual-write 0001 --endpoint http://127.0.0.1:8000`,
    )
    .action(async (ref: string, opts: DualWriteFlags) => {
      const loaded = await loadMigration(ref, opts.migrationsDir ?? defaultMigrationsDir());
      const tableName = tableFor(opts, loaded);
      const clients = createDynamoClients({ endpoint: opts.endpoint, region: opts.region });
      const streams = createStreamsClient(clients);
      try {
        const { streamArn } = requireDualWriteStream(await describeTable(clients.raw, tableName), tableName);
        // The table's keys, checked against the migration's before anything is written (the control table included).
        const migration = await migrationOnTable(clients.raw, loaded, tableName);
        const controlTable = opts.controlTable ?? defaultControlTableName(tableName);
        await ensureControlTable(clients.raw, controlTable);
        const location = { doc: clients.doc, controlTable, migrationId: migration.id };
        if (!(await readMigrationState(location))) {
          process.stderr.write(`note: ${migration.id} has no add step recorded; run \`ferry add ${migration.id}\` to record where dual-write began.\n`);
        }
        const settings = { ...streamSettings(migration), ...(opts.batchSize ? { batchSize: opts.batchSize } : {}) };
        const report = reporter(opts, migration);
        const controller = new AbortController();
        const mapping = startEventSourceMapping({
          streamsClient: streams,
          streamArn,
          handler: dualWriteHandler(clients, tableName, controlTable, migration),
          settings,
          checkpoints: controlTableCheckpoints(location),
          deadLetters: controlTableDeadLetters(location),
          signal: controller.signal,
          pollIntervalMs: opts.pollInterval,
          region: clients.region,
          onEvent: (event) => report.event(event, mapping.stats()),
        });
        const finished = mapping.done.then((stats) => report.stopped(stats));
        const unregister = onShutdown(async () => {
          controller.abort();
          await finished.catch(() => undefined);
          // A clean stop says so in the heartbeat: convert's guard must not take its young age for a running dual-write.
          const by = `${defaultActor()}@${hostname()} (ferry dual-write, pid ${process.pid}, ${shutdownSignal() ?? "stopped"})`;
          await recordHeartbeatStop(clients.doc, controlTable, migration.id, { at: Date.now(), by }).catch((err: unknown) =>
            process.stderr.write(`warning: could not record the stop in the heartbeat: ${err instanceof Error ? err.message : String(err)}\n`),
          );
        });
        report.started(streamArn, controlTable, settings.batchSize);
        await finished;
        unregister();
        // Stopped by a signal: the cleanup above still writes the stop with these clients, then exits.
        if (isShuttingDown()) await untilSignal();
      } finally {
        streams.destroy();
        clients.raw.destroy();
      }
    });
}

function dualWriteHandler(clients: DynamoClients, table: string, controlTable: string, migration: Migration): StreamHandler {
  return createDualWriteHandler({ migration, doc: clients.doc, tableName: table, controlTable });
}

/** Human lines (one per --report-every batches, plus every dead letter and shard change) or JSON lines. */
function reporter(opts: DualWriteFlags, migration: Migration) {
  const json = Boolean(opts.json);
  const line = (text: string) => process.stdout.write(`${text}\n`);
  let batches = 0;
  const summary = (stats: MappingStats) =>
    `batches ${stats.invocations} (${stats.failedInvocations} failed) · records applied ${stats.delivered} · ` +
    `filtered ${stats.filtered} · retries ${stats.retries} · dead letters ${stats.deadLettered}` +
    (stats.lagMs !== undefined ? ` · lag ~${(stats.lagMs / 1000).toFixed(1)} s` : "");
  return {
    started(streamArn: string, controlTable: string, batchSize: number) {
      if (json) return line(JSON.stringify({ type: "started", migrationId: migration.id, streamArn, controlTable, batchSize }));
      line(`Dual-writing ${migration.id} from ${streamArn}`);
      line(`  batch size ${batchSize}, checkpoints and dead letters in ${controlTable}. Press Ctrl-C to stop.`);
    },
    event(event: MappingEvent, stats: MappingStats) {
      if (json) return line(JSON.stringify(event));
      switch (event.type) {
        case "batch":
          batches++;
          if (batches % opts.reportEvery === 0) line(`${new Date().toISOString()} ${summary(stats)}`);
          break;
        case "dead-letter":
          line(
            `dead letter: ${JSON.stringify(event.deadLetter.keys)} ${event.deadLetter.eventName ?? ""} after ${event.deadLetter.attempts} attempt(s): ${event.deadLetter.reason}`,
          );
          break;
        case "shard-started":
          line(`reading shard ${event.shardId} from ${event.from === "checkpoint" ? "its checkpoint" : event.from}`);
          break;
        case "shard-finished":
          line(`shard ${event.shardId} read to its end`);
          break;
        case "read-error":
          process.stderr.write(`stream read failed (retrying in ${event.delayMs} ms): ${event.error}\n`);
          break;
        case "trimmed":
          process.stderr.write(
            `warning: shard ${event.shardId}: records after ${event.sequenceNumber} were trimmed before they were read (${event.message}); run \`ferry verify --repair\`.\n`,
          );
          break;
        default:
          break;
      }
    },
    stopped(stats: MappingStats) {
      if (json) return line(JSON.stringify({ type: "stopped", stats }));
      line(`Stopped. ${summary(stats)}`);
    },
  };
}
