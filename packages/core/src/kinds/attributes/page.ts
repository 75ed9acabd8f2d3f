/**
 * One backfill page of an attributes migration: read a page of one Scan segment (eventually
 * consistent, the source key filter applied by DynamoDB), derive the owned attributes of every
 * source item on it, skip the items that already hold them (so a resume costs reads, not
 * writes), and set them on the others with one conditional UpdateItem each
 * (kinds/attributes/update.ts). An update whose condition fails met a later change of the
 * item: the stream owns it (counted as deferred, "left to the stream"). README "The
 * attributes kind" has the argument.
 *
 * No write-ahead note (backfill/pending.ts) and no validation read: the records kind needs
 * them because its plain writes land whatever the source became, so a dead attempt's write
 * must be found and checked; here every write carries its own condition on the item's current
 * state, so a write of an attempt that died lands only where it is right, and one that did not
 * land changed nothing.
 */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { EMPTY_COUNTERS, type PageCounters, type PageFailure, type PageRequest, type PageResult } from "../../backfill/page.ts";
import { scanSourcePage } from "../../backfill/scan-page.ts";
import { RunFencedError } from "../../backfill/transactions.ts";
import { type ItemKey, type Migration, keysOf } from "../../definition/define-migration.ts";
import { isSourceItem } from "../../definition/source.ts";
import { keyOf } from "../../dynamo/key-schema.ts";
import { FerryError } from "../../errors.ts";
import { type BackoffOptions, DEFAULT_BACKOFF } from "../../util/backoff.ts";
import { type OwnedAttributes, deriveAttributes, holdsOwned, ownedOf } from "./derive.ts";
import { updateOwned } from "./update.ts";

/** Conditional updates of one page in flight at once. */
export const PAGE_UPDATE_CONCURRENCY = 16;

/** Converts one page of one segment (the attributes kind's MigrationKind.convertPage). */
export async function convertAttributesPage(
  doc: DynamoDBDocumentClient,
  tableName: string,
  migration: Migration,
  request: PageRequest,
  backoff: BackoffOptions = DEFAULT_BACKOFF,
): Promise<PageResult> {
  // Eventually consistent: a stale item fails its update's condition and is the stream's like any change.
  const page = await scanSourcePage(doc, tableName, migration, request, backoff);
  const keys = keysOf(migration);
  const counters: PageCounters = { ...EMPTY_COUNTERS, scanned: page.ScannedCount ?? page.Items?.length ?? 0 };
  counters.consumedReadUnits = page.ConsumedCapacity?.CapacityUnits ?? 0;
  const failures: PageFailure[] = [];
  const updates: { item: Record<string, unknown>; set: OwnedAttributes }[] = [];
  for (const item of page.Items ?? []) {
    try {
      let set: OwnedAttributes;
      if (isSourceItem(migration, item)) {
        counters.sources++;
        set = deriveAttributes(migration, item);
      } else if (Object.keys(ownedOf(migration, item)).length > 0) {
        // Stopped matching and still holds owned attributes (its removal was superseded): drop them.
        set = {};
      } else continue;
      if (holdsOwned(migration, item, set)) counters.converted++;
      else updates.push({ item, set });
    } catch (err) {
      // A bad item is recorded with its key and reason, never silently skipped, never retried.
      if (!(err instanceof FerryError)) throw err;
      counters.failed++;
      failures.push({ key: keyOf(keys, item), error: err.name, message: err.message });
    }
  }
  const rest = page.LastEvaluatedKey ? { lastKey: page.LastEvaluatedKey } : {};
  if (request.dryRun) {
    counters.converted += updates.length;
    return { counters, ...rest, failures, deferredKeys: [], repairedKeys: [], wouldWrite: updates.length };
  }

  const fence = request.fence;
  const beforeCall = fence
    ? async () => {
        if (!(await fence())) throw new RunFencedError();
      }
    : undefined;
  const stats = { calls: 0, consumedWriteUnits: 0 };
  const deferredKeys: ItemKey[] = [];
  let fenced: unknown;
  for (let i = 0; i < updates.length && !fenced; i += PAGE_UPDATE_CONCURRENCY) {
    await Promise.all(
      updates.slice(i, i + PAGE_UPDATE_CONCURRENCY).map(async ({ item, set }) => {
        try {
          const outcome = await updateOwned(doc, tableName, migration, item, set, { backoff, stats, ...(beforeCall ? { beforeCall } : {}) });
          if (outcome === "written") {
            counters.converted++;
            counters.recordsWritten++;
          } else {
            counters.deferred++;
            deferredKeys.push(keyOf(keys, item));
          }
        } catch (err) {
          if (err instanceof RunFencedError) fenced = err;
          else if (err instanceof FerryError) {
            counters.failed++;
            failures.push({ key: keyOf(keys, item), error: err.name, message: err.message });
          } else throw err;
        }
      }),
    );
  }
  // Asked to stop: the caller does not checkpoint this page, and its redo skips what landed.
  if (fenced) throw fenced;
  counters.consumedWriteUnits = stats.consumedWriteUnits;
  return { counters, ...rest, failures, deferredKeys, repairedKeys: [], wouldWrite: updates.length };
}
