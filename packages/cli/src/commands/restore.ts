/** `ferry restore <file>`: loads a remove step's local backup back without clobbering newer writes. */
import { createDynamoClients, defaultControlTableName } from "@ferry/core";
import { readBackupHeader } from "@ferry/core/cleanup/backup";
import { recordRestore, restoreBackup } from "@ferry/core/cleanup/restore";
import { Command } from "commander";
import { type ConnectionFlags, parseInteger } from "../options.ts";
import { printJson, table } from "../output.ts";

interface RestoreFlags extends Omit<ConnectionFlags, "table"> {
  table?: string;
  controlTable?: string;
  recreateMissing?: boolean;
  concurrency?: number;
}

export function restoreCommand(): Command {
  return new Command("restore")
    .description("Load a `ferry remove` backup (JSON lines) back: put back the removed attributes where nothing newer replaced them")
    .argument("<file>", "the backup file (printed by remove; in --backup-dir, default ./.ferry/backups)")
    .option("--table <name>", "table to restore into (default: the one named in the backup's header)")
    .option(
      "--control-table <name>",
      "ferry's control table, where the restore is recorded for `ferry unretire` (default: FERRY_CONTROL_TABLE or <table>.ferry)",
    )
    .option("--endpoint <url>", "DynamoDB endpoint (default: AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL, else AWS)")
    .option("--region <region>", "AWS region (default: AWS_REGION or us-east-1)")
    .option("--json", "print machine-readable JSON")
    .option("--recreate-missing", "also put back whole items deleted since the backup (when their key is still free)")
    .option("--concurrency <n>", "UpdateItem calls in flight", parseInteger(1, 256))
    .addHelpText(
      "after",
      `
Each backed-up item gets its removed attributes back (SET), only if the item exists and none
of them is there now: a write made since the cleanup that set them again is newer and stays
(counted "present"); other attributes keep their current values. Items deleted since stay
deleted (counted "missing") unless --recreate-missing. Safe to run twice. The dual-write sees
the attributes come back and derives the new records from them again. An item deleted whole
(deleteSourceItems) comes back as the dual-write last saw it when the application added an
attribute after its backup line (read from the control table). The restore is recorded
in the migration's state; to serve v1 again after it, \`ferry unretire <migration> --reason "..."\`.

Exit codes: 0 restored, 1 failed, 2 bad file or flags.

Example:
  $ npx ferry restore .ferry/backups/0002_split-workflow-tasks.Workflows.2026-11-23T10-00-00-000Z.jsonl --endpoint http://127.0.0.1:8000`,
    )
    .action(async (file: string, opts: RestoreFlags) => {
      const clients = createDynamoClients({ endpoint: opts.endpoint, region: opts.region });
      try {
        // Deleted images (the dual-write's copy of an item deleted with attributes its backup line lacks) are the source table's.
        const sourceControlTable = opts.controlTable ?? defaultControlTableName(readBackupHeader(file).tableName);
        const result = await restoreBackup(clients, file, {
          controlTable: sourceControlTable,
          ...(opts.table || process.env.FERRY_TABLE ? { tableName: opts.table ?? process.env.FERRY_TABLE } : {}),
          ...(opts.recreateMissing ? { recreateMissing: true } : {}),
          ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
        });
        const controlTable = opts.controlTable ?? defaultControlTableName(result.tableName);
        const recorded = await recordRestore({ doc: clients.doc, controlTable, migrationId: result.migrationId }, result);
        if (opts.json) return printJson({ ...result, recorded });
        process.stdout.write(
          `Restored ${result.migrationId}'s backup into ${result.tableName}.\n${table([
            ["items in backup", result.items],
            ["restored", result.restored],
            ["left (newer write)", result.present],
            ["left deleted", result.missing],
            ["recreated", result.recreated],
            ["completed from the stream", result.completedFromStream],
          ])}\n` +
            (recorded ? `Recorded in ${controlTable}. If v1 was retired, \`ferry unretire ${result.migrationId} --reason "..."\` serves it again.\n` : ""),
        );
      } finally {
        clients.raw.destroy();
      }
    });
}
