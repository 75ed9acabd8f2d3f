/**
 * Rollback's data part: deletes exactly the records whose owner stamp (`ferry.migration`,
 * see definition/derive.ts) names this migration, nothing else: not source items, not
 * another migration's records, not the application's items. A filtered parallel Scan (the
 * stamp is the filter, only keys come back) feeds DeleteItem calls conditional on the stamp
 * (several in flight), so an item that changed hands since the scan is kept and counted as
 * skipped; throttled and resumable as a sweep.
 *
 * The dual-write must be stopped first: while it runs it derives the records again from
 * every source change, and the deleted records would reappear.
 */
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { DynamoClients } from "../aws/dynamodb.ts";
import { OWNER_ATTRIBUTE } from "../definition/derive.ts";
import { migrationDeleteCondition } from "../definition/owner.ts";
import { type ItemKey, type KeySchema, keyNames, keyOf } from "../dynamo/key-schema.ts";
import type { BackoffOptions } from "../util/backoff.ts";
import { type SweepResult, type SweepRunOptions, type SweepSettings, type SweepTask, runSweep } from "./sweep.ts";

export const ROLLBACK_SWEEP = "rollback";

/** Conditional deletes of one page in flight at once. */
const DELETES_IN_FLIGHT = 50;

export interface DeleteDerivedContext {
  clients: Pick<DynamoClients, "doc">;
  tableName: string;
  controlTable: string;
  migrationId: string;
  /** The data table's key schema: what the scan returns and the deletes address. */
  keys: KeySchema;
  backoff?: BackoffOptions;
}

/** The sweep task that finds and deletes this migration's derived records. */
export function deleteDerivedTask(ctx: DeleteDerivedContext): SweepTask<ItemKey> {
  const names = keyNames(ctx.keys);
  return {
    kind: ROLLBACK_SWEEP,
    doc: ctx.clients.doc,
    controlTable: ctx.controlTable,
    migrationId: ctx.migrationId,
    async scanPage(segment, totalSegments, startKey, limit) {
      const out = await ctx.clients.doc.send(
        new ScanCommand({
          TableName: ctx.tableName,
          Segment: segment,
          TotalSegments: totalSegments,
          Limit: limit,
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
          FilterExpression: "#stamp.#migration = :migration",
          ProjectionExpression: names.map((_, i) => `#k${i}`).join(", "),
          ExpressionAttributeNames: { "#stamp": OWNER_ATTRIBUTE, "#migration": "migration", ...Object.fromEntries(names.map((n, i) => [`#k${i}`, n])) },
          ExpressionAttributeValues: { ":migration": ctx.migrationId },
        }),
      );
      return {
        items: (out.Items ?? []).map((i) => keyOf(ctx.keys, i)),
        scanned: out.ScannedCount ?? 0,
        ...(out.LastEvaluatedKey ? { lastKey: out.LastEvaluatedKey } : {}),
      };
    },
    async processPage(keys) {
      // BatchWriteItem cannot carry the stamp condition; a page's deletes go out together instead.
      let skipped = 0;
      for (let i = 0; i < keys.length; i += DELETES_IN_FLIGHT) {
        await Promise.all(
          keys.slice(i, i + DELETES_IN_FLIGHT).map((Key) =>
            ctx.clients.doc.send(new DeleteCommand({ TableName: ctx.tableName, Key, ...migrationDeleteCondition(ctx.migrationId) })).catch((err: unknown) => {
              // No longer this migration's record (or gone): not ours to delete.
              if (!(err instanceof ConditionalCheckFailedException)) throw err;
              skipped++;
            }),
          ),
        );
      }
      return { processed: keys.length - skipped, skipped };
    },
  };
}

/** Deletes every derived record of the migration (resuming an unfinished rollback sweep). */
export function deleteDerivedRecords(ctx: DeleteDerivedContext, settings: Partial<SweepSettings> = {}, options: SweepRunOptions = {}): Promise<SweepResult> {
  return runSweep(deleteDerivedTask(ctx), settings, options);
}
