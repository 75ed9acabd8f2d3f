/**
 * Applies record plans to the data table in windows: consecutive plans whose derived keys
 * do not overlap are independent (their order cannot change the result), so one window's
 * puts and deletes go out together in BatchWriteItem calls of 25, several in flight, instead
 * of one call per stream record. A plan that touches a key already in the window starts the
 * next window, so two changes of the same record are always written in stream order.
 * Puts overwrite whole records, so applying the same plans again changes nothing.
 */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { keyId } from "../definition/derive.ts";
import type { ItemKey } from "../definition/define-migration.ts";
import { BATCH_WRITE_MAX, type BatchWriteStats, type WriteRequest, writeBatch } from "../dynamo/batch-write.ts";
import { type BackoffOptions, DEFAULT_BACKOFF } from "../util/backoff.ts";
import type { RecordPlan } from "./plan.ts";

export type ApplyPlan = Extract<RecordPlan, { kind: "apply" }>;

/** How a window is written. */
export interface ApplyOptions {
  /** BatchWriteItem calls in flight at once. */
  concurrency: number;
  /** Retries of unprocessed requests. */
  backoff: BackoffOptions;
}

export const DEFAULT_APPLY_OPTIONS: ApplyOptions = { concurrency: 4, backoff: DEFAULT_BACKOFF };

/** What applying a window did. Plans before `failure.index` are fully written; it and later ones may be partly written. */
export interface WindowResult {
  written: number;
  deleted: number;
  failure?: { index: number; error: unknown };
}

/** Collects key-disjoint plans; `fits` says whether a plan may join without reordering writes of a key. */
export class ApplyWindow<T> {
  readonly entries: { plan: ApplyPlan; tag: T }[] = [];
  private readonly keys = new Set<string>();

  fits(plan: ApplyPlan): boolean {
    return planKeys(plan).every((k) => !this.keys.has(k));
  }

  add(plan: ApplyPlan, tag: T): void {
    for (const k of planKeys(plan)) this.keys.add(k);
    this.entries.push({ plan, tag });
  }

  get size(): number {
    return this.entries.length;
  }
}

/**
 * Writes every plan of a key-disjoint window. On a failure it launches no further call, lets
 * the calls in flight finish, and names the earliest plan with a request in a failed call:
 * every plan before it is written, so the caller can report it and everything after it.
 */
export async function applyWindow(
  doc: DynamoDBDocumentClient,
  tableName: string,
  plans: readonly ApplyPlan[],
  options: ApplyOptions = DEFAULT_APPLY_OPTIONS,
  stats?: BatchWriteStats,
): Promise<WindowResult> {
  const tagged = plans.flatMap((plan, index) => [
    ...plan.puts.map((item) => ({ index, request: { PutRequest: { Item: item } } as WriteRequest })),
    ...plan.deletes.map((key: ItemKey) => ({ index, request: { DeleteRequest: { Key: { PK: key.PK, SK: key.SK } } } as WriteRequest })),
  ]);
  const chunks: (typeof tagged)[] = [];
  for (let i = 0; i < tagged.length; i += BATCH_WRITE_MAX) chunks.push(tagged.slice(i, i + BATCH_WRITE_MAX));
  let failure: WindowResult["failure"];
  const inFlight = new Set<Promise<void>>();
  for (const chunk of chunks) {
    if (failure) break;
    const call = writeBatch(
      doc,
      tableName,
      chunk.map((t) => t.request),
      options.backoff,
      stats,
    )
      .catch((error: unknown) => {
        const index = Math.min(...chunk.map((t) => t.index));
        if (!failure || index < failure.index) failure = { index, error };
      })
      .finally(() => inFlight.delete(call));
    inFlight.add(call);
    while (inFlight.size >= Math.max(1, options.concurrency)) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  const done = failure ? plans.slice(0, failure.index) : plans;
  return {
    written: done.reduce((n, p) => n + p.puts.length, 0),
    deleted: done.reduce((n, p) => n + p.deletes.length, 0),
    ...(failure ? { failure } : {}),
  };
}

function planKeys(plan: ApplyPlan): string[] {
  return [...plan.puts.map((r) => keyId(r)), ...plan.deletes.map((k) => keyId(k))];
}
