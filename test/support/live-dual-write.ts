// Runs the real dual-write handler behind the local event source mapping, as `ferry dual-write` does.
import { type DynamoClients, type Migration, describeTable, ensureControlTable } from "@ferry/core";
import { startEventSourceMapping } from "@ferry/core/local/event-source-mapping";
import { controlTableCheckpoints } from "@ferry/core/local/stream-checkpoints";
import { controlTableDeadLetters, listDeadLetters } from "@ferry/core/local/stream-dead-letters";
import { createStreamsClient } from "@ferry/core/local/stream-shards";
import { streamSettings } from "@ferry/core/runtime/stream-settings";
import { createDualWriteHandler } from "@ferry/functions/dual-write";

export async function startLiveDualWrite(clients: DynamoClients, table: string, controlTable: string, migration: Migration) {
  await ensureControlTable(clients.raw, controlTable);
  const streamArn = (await describeTable(clients.raw, table))?.LatestStreamArn;
  if (!streamArn) throw new Error(`${table} has no stream`);
  const location = { doc: clients.doc, controlTable, migrationId: migration.id };
  const controller = new AbortController();
  const streams = createStreamsClient(clients);
  const mapping = startEventSourceMapping({
    streamsClient: streams,
    streamArn,
    handler: createDualWriteHandler({ migration, doc: clients.doc, tableName: table, controlTable }),
    settings: streamSettings(migration),
    checkpoints: controlTableCheckpoints(location),
    deadLetters: controlTableDeadLetters(location),
    signal: controller.signal,
    pollIntervalMs: 50,
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
