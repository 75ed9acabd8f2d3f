/**
 * Runs the dual-write Lambda handler in this process behind the local event source mapping
 * (same settings as the deployed mapping), as `ferry dual-write` does in the foreground. The
 * demo and the tests use it to keep the new records maintained while they do other work.
 */
import type { DynamoClients } from "../aws/dynamodb.ts";
import type { Migration } from "../definition/define-migration.ts";
import { migrationOnTable } from "../definition/table-keys.ts";
import { startEventSourceMapping } from "./event-source-mapping.ts";
import type { StreamHandler } from "../streams/lambda-event.ts";
import { controlTableCheckpoints } from "./stream-checkpoints.ts";
import { controlTableDeadLetters, listDeadLetters } from "./stream-dead-letters.ts";
import { createStreamsClient } from "../streams/shards.ts";
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
  const streams = createStreamsClient(clients);
  const mapping = startEventSourceMapping({
    streamsClient: streams,
    streamArn,
    handler: options.handler,
    settings: streamSettings(migration),
    checkpoints: controlTableCheckpoints(location),
    deadLetters: controlTableDeadLetters(location),
    signal: controller.signal,
    pollIntervalMs: options.pollIntervalMs ?? 50,
  });
  return {
    mapping,
    deadLetters: () => listDeadLetters(location),
    async stop() {
      controller.abort();
      await mapping.done;
      streams.destroy();
    },
  };
}
