/**
 * The `attributes` kind: new attributes on the source items themselves (usually a new GSI's
 * keys), listed in the file's `attributes`, set to derive(item) in place. Every write is one
 * UpdateItem conditional on the item's read fields (kinds/attributes/update.ts), so the
 * dual-write, the backfill and verify's repair are each right whenever they land and leave a
 * later change to its own stream record; rollback removes only the values derive gives. The
 * parts are in kinds/attributes/; README "The attributes kind" has the argument.
 */
import { cleanupTask } from "../cleanup/remove-attributes.ts";
import type { SweepTask } from "../cleanup/sweep.ts";
import { keysOf } from "../definition/define-migration.ts";
import { keyOf } from "../dynamo/key-schema.ts";
import { itemSize } from "../dynamo/item-size.ts";
import { applyAttributesWindow, AttributesWindow } from "./attributes/apply.ts";
import { attributesSpecIssues, deriveAttributes } from "./attributes/derive.ts";
import { IndexMissingError, IndexNotActiveError, IndexNotAnsweringError, readIndex } from "./attributes/gsi.ts";
import { convertAttributesPage } from "./attributes/page.ts";
import { planAttributesRecord } from "./attributes/plan.ts";
import { removeDerivedAttributesTask } from "./attributes/rollback.ts";
import { verifyAttributes } from "./attributes/verify.ts";
import type { MigrationKind } from "./kind.ts";

export const attributesKind: MigrationKind = {
  name: "attributes",
  specIssues: attributesSpecIssues,
  summarize(migration, item, run) {
    const set = deriveAttributes(migration, item, run ? { run } : {});
    // One UpdateItem, billed on the whole item as it is after the update.
    return { writes: 1, writeBytes: [itemSize({ ...item, ...set })], keyIds: [], inPlace: true };
  },
  deriveForCheck(migration, item, options) {
    return [{ ...deriveAttributes(migration, item, options), ...keyOf(keysOf(migration), item) }];
  },
  planStreamRecord: planAttributesRecord,
  newWindow: (migration) => new AttributesWindow(migration.keys),
  applyWindow: (target, plans, options, stats) => applyAttributesWindow(target.doc, target.tableName, target.migration, plans, options, stats),
  convertPage: convertAttributesPage,
  verify: verifyAttributes,
  rollbackTasks: (ctx) => [removeDerivedAttributesTask(ctx) as SweepTask<unknown>],
  // Rename/reshape: the remove step drops the old attributes as for records; the dual-write sees that change as the cleanup (plan.ts).
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
  async addProblems(ctx) {
    const name = ctx.migration.index;
    if (!name) return [];
    const index = await readIndex(ctx.clients.raw, ctx.tableName, name);
    return index ? [] : [new IndexMissingError(ctx.migration.id, ctx.tableName, name, ctx.migration.attributes ?? [])];
  },
  async moveProblems(ctx, verified) {
    const name = ctx.migration.index;
    if (!name) return [];
    const index = await readIndex(ctx.clients.raw, ctx.tableName, name);
    if (!index) return [new IndexMissingError(ctx.migration.id, ctx.tableName, name, ctx.migration.attributes ?? [])];
    if (index.status !== "ACTIVE") return [new IndexNotActiveError(ctx.migration.id, name, index.status)];
    const check = verified?.index;
    if (!check) return [new IndexNotAnsweringError(ctx.migration.id, name, 1, 0)];
    return check.mismatched > 0 ? [new IndexNotAnsweringError(ctx.migration.id, name, check.mismatched, check.sampled)] : [];
  },
};
