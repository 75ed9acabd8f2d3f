/**
 * The `records` kind: new items in the same table, each owned by one source item and stamped
 * with its owner (seed 000's `CTX#` index records, 0002's task children). The implementation
 * predates the kinds and lives with its step (dualwrite/, backfill/, verify/, cleanup/); this
 * file is the table of contents that puts it behind the MigrationKind interface.
 */
import { convertPage } from "../backfill/page.ts";
import { deleteDerivedTask } from "../cleanup/delete-derived.ts";
import { cleanupTask } from "../cleanup/remove-attributes.ts";
import type { SweepTask } from "../cleanup/sweep.ts";
import { keysOf } from "../definition/define-migration.ts";
import { deriveRecords, keyId } from "../definition/derive.ts";
import { ApplyWindow, applyWindow } from "../dualwrite/applier.ts";
import { planStreamRecord } from "../dualwrite/plan.ts";
import { itemSize } from "../dynamo/item-size.ts";
import { verifyRecords } from "../verify/verifier.ts";
import type { MigrationKind } from "./kind.ts";

export const recordsKind: MigrationKind = {
  name: "records",
  specIssues: () => [],
  summarize(migration, item, run) {
    const records = deriveRecords(migration, item, run ? { run } : {});
    const keys = keysOf(migration);
    return { writes: records.length, writeBytes: records.map((r) => itemSize(r)), keyIds: records.map((r) => keyId(keys, r)) };
  },
  planStreamRecord,
  newWindow: (migration) => new ApplyWindow(keysOf(migration)),
  applyWindow: (target, plans, options, stats) =>
    applyWindow(target.doc, target.tableName, keysOf(target.migration), target.migration.id, plans, options, stats),
  convertPage,
  verify: verifyRecords,
  rollbackTasks: (ctx) => [
    deleteDerivedTask({
      clients: ctx.clients,
      tableName: ctx.tableName,
      controlTable: ctx.controlTable,
      migrationId: ctx.migration.id,
      keys: keysOf(ctx.migration),
      ...(ctx.backoff ? { backoff: ctx.backoff } : {}),
    }) as SweepTask<unknown>,
  ],
  removeTask: (ctx) =>
    ctx.migration.cleanup?.removeAttributes
      ? (cleanupTask({
          clients: ctx.clients,
          tableName: ctx.tableName,
          controlTable: ctx.controlTable,
          migration: ctx.migration,
          ...(ctx.backupFile ? { backupFile: ctx.backupFile } : {}),
        }) as SweepTask<unknown>)
      : undefined,
  addProblems: async () => [],
  moveProblems: async () => [],
};
