/**
 * The `table` kind: a copy into another table with its own key schema (re-keying a table,
 * splitting an entity into its own table). derive returns records in the target's key names
 * and types, stamped with their owner's source key like the records kind's, so the same
 * machinery runs with the target as the records' table (definition/define-migration.ts
 * recordTableOf): the dual-write writes the target owner-conditionally, a backfill page's
 * repairs are transactions spanning both tables (a ConditionCheck on the source item, the
 * writes in the target), verify scans both tables (kinds/table/verify.ts), rollback sweeps
 * the target, and remove may delete the migrated source items (kinds/table/delete-sources.ts).
 */
import { DescribeTableCommand } from "@aws-sdk/client-dynamodb";
import { convertPage } from "../backfill/page.ts";
import { deleteDerivedTask } from "../cleanup/delete-derived.ts";
import type { SweepTask } from "../cleanup/sweep.ts";
import { keysOf, recordKeysOf, recordTableOf } from "../definition/define-migration.ts";
import { deriveRecords, keyId } from "../definition/derive.ts";
import { TargetTableMissingError, targetTableName } from "../definition/table-keys.ts";
import { ApplyWindow, applyWindow } from "../dualwrite/applier.ts";
import { planStreamRecord } from "../dualwrite/plan.ts";
import { itemSize } from "../dynamo/item-size.ts";
import { isMissingTable } from "../dynamo/missing-table.ts";
import type { MigrationKind } from "./kind.ts";
import { deleteSourcesTask } from "./table/delete-sources.ts";
import { verifyTable } from "./table/verify.ts";

export const tableKind: MigrationKind = {
  name: "table",
  specIssues(migration) {
    const issues: { path: string; message: string }[] = [];
    if (migration.target && migration.target.table === migration.table)
      issues.push({
        path: "target.table",
        message: `the target must be another table than the source (${migration.table}); records beside their sources are the records kind`,
      });
    if (migration.cleanup?.removeAttributes)
      issues.push({
        path: "cleanup.removeAttributes",
        message: "a copy leaves its source items as they are; to drop them after the move use deleteSourceItems: true",
      });
    return issues;
  },
  summarize(migration, item, run) {
    const records = deriveRecords(migration, item, run ? { run } : {});
    const keys = recordKeysOf(migration);
    return { writes: records.length, writeBytes: records.map((r) => itemSize(r)), keyIds: records.map((r) => keyId(keys, r)) };
  },
  planStreamRecord,
  // Windows are keyed by the target's keys; plans (source items) by the source's.
  newWindow: (migration) => new ApplyWindow(recordKeysOf(migration), keysOf(migration)),
  applyWindow(target, plans, options, stats) {
    const records = recordTableOf(target.migration, target.tableName);
    return applyWindow(target.doc, records.tableName, records.keys, target.migration.id, plans, options, stats);
  },
  convertPage,
  verify: verifyTable,
  rollbackTasks: (ctx) => {
    const records = recordTableOf(ctx.migration, ctx.tableName);
    return [
      deleteDerivedTask({
        clients: ctx.clients,
        tableName: records.tableName,
        controlTable: ctx.controlTable,
        migrationId: ctx.migration.id,
        keys: records.keys,
        ...(ctx.backoff ? { backoff: ctx.backoff } : {}),
      }) as SweepTask<unknown>,
    ];
  },
  removeTask: (ctx) => (ctx.migration.cleanup?.deleteSourceItems ? (deleteSourcesTask(ctx) as SweepTask<unknown>) : undefined),
  async addProblems(ctx) {
    // The binding refuses a missing target already; this is the guard's own reading, for callers that bind otherwise.
    const target = targetTableName(ctx.migration) as string;
    try {
      await ctx.clients.raw.send(new DescribeTableCommand({ TableName: target }));
      return [];
    } catch (err) {
      if (isMissingTable(err)) return [new TargetTableMissingError(ctx.migration.id, target, ctx.migration.target?.keys)];
      throw err;
    }
  },
  moveProblems: async () => [],
};
