// Runs the real dual-write handler behind the local event source mapping, as `ferry dual-write` does.
import type { DynamoClients, Migration } from "@ferry/core";
import { startLocalDualWrite } from "@ferry/core/local/dual-write";
import { createDualWriteHandler } from "@ferry/functions/dual-write";

export function startLiveDualWrite(clients: DynamoClients, table: string, controlTable: string, migration: Migration) {
  return startLocalDualWrite({
    clients,
    tableName: table,
    controlTable,
    migration,
    handler: createDualWriteHandler({ migration, doc: clients.doc, tableName: table, controlTable }),
  });
}
