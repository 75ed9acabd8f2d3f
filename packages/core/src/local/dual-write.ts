/**
 * Runs the dual-write Lambda handler in this process behind the local event source mapping
 * (same settings as the deployed mapping), as `ferry dual-write` does in the foreground. The
 * demo and the tests use it to keep the new records maintained while they do other work.
 */
import type { DynamoClients } from "../aws/dynamodb.ts";
import type { Migration } from "../definition/define-migration.ts";
import { migrationOnTable } from "../definition/table-keys.ts";
import { type EventSourceMappingOptions, startEventSourceMapping } from "./event-source-mapping.ts";
import type { StreamHandler } from "../streams/lambda-event.ts";
import { controlTableCheckpoints } from "./stream-checkpoints.ts";
import { controlTableDeadLetters, listDeadLetters } from "./stream-dead-letters.ts";
import { type StreamsClient, createStreamsClient } from "../streams/shards.ts";
import { ensureControlTable } from "../control/control-table.ts";
import { describeTable } from "../dynamo/table.ts";
import { FerryError } from "../errors.ts";
import { streamSettings } from "../dualwrite/stream-settings.ts";

export interface LocalDualWriteOptions {
  clients: DynamoClients;
  tableName: string;
  controlTable: string;
  migration: Migration;
  /** The handler (the Lambda's `createDualWriteHandler`); core does not import functions. */
  handler: StreamHandler;
  /** Wait after an empty stream read. */
  pollIntervalMs?: number;
  /** Least time between two checkpoint writes (default: the mapping's, DEFAULT_EVENT_SOURCE_MAPPING_OPTIONS). */
  checkpointIntervalMs?: number;
  /** A streams client of the caller's (e.g. one it profiles); left open on stop. Default: one of its own. */
  streamsClient?: StreamsClient;
  /** Every mapping event (batches, retries, dead letters). */
  onEvent?: EventSourceMappingOptions["onEvent"];
}

export async function startLocalDualWrite(options: LocalDualWriteOptions) {
  const { clients, tableName, controlTable } = options;
  // The table's keys (the mapping's filter pattern names them), checked before the control table is touched.
  const migration = await migrationOnTable(clients.raw, options.migration, tableName);
  await ensureControlTable(clients.raw, controlTable);
  const streamArn = (await describeTable(clients.raw, tableName))?.LatestStreamArn;
  if (!streamArn) throw new FerryError(`${tableName} has no stream; run \`ferry add\` after enabling it.`);
  const location = { doc: clients.doc, controlTable, migrationId: migration.id };
  const controller = new AbortController();
  const own = options.streamsClient ? undefined : createStreamsClient(clients);
  const streams = options.streamsClient ?? (own as StreamsClient);
  const mapping = startEventSourceMapping({
    streamsClient: streams,
    streamArn,
    handler: options.handler,
    settings: streamSettings(migration),
    checkpoints: controlTableCheckpoints(location),
    deadLetters: controlTableDeadLetters(location),
    signal: controller.signal,
    pollIntervalMs: options.pollIntervalMs ?? 50,
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    ...(options.checkpointIntervalMs !== undefined ? { checkpointIntervalMs: options.checkpointIntervalMs } : {}),
  });
  return {
    mapping,
    deadLetters: () => listDeadLetters(location),
    async stop() {
      controller.abort();
      await mapping.done;
      own?.destroy();
    },
  };
}
