/**
 * BatchGetItem of any number of keys: 100 per call, a few calls in flight, every
 * `UnprocessedKeys` retried with jittered backoff, read units counted. Verify reads with
 * strong consistency; the API's v2 with eventual consistency and in the order asked.
 */
import { BatchGetCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { FerryError } from "../errors.ts";
import { type BackoffOptions, backoffDelay, sleep } from "../util/backoff.ts";
import { type ItemKey, type KeySchema, keyId, keyNames, keyOf } from "./key-schema.ts";

/** DynamoDB's limit of keys per BatchGetItem. */
export const BATCH_GET_MAX = 100;
/** BatchGetItem calls in flight at once for one page. */
const BATCH_GET_CONCURRENCY = 4;

/** Capacity consumed by the reads (and, for verify, its repairs' writes). */
export interface ReadStats {
  consumedReadUnits: number;
  consumedWriteUnits: number;
}

export class UnprocessedKeysError extends FerryError {
  constructor(
    readonly tableName: string,
    readonly unprocessed: number,
    readonly attempts: number,
  ) {
    super(
      `${unprocessed} key(s) were still unprocessed by ${tableName} after ${attempts} attempts without progress; ` +
        "the table is throttling reads: raise its read capacity or lower --segments, then run verify again.",
    );
  }
}

export interface BatchGetOptions {
  backoff: BackoffOptions;
  stats: ReadStats;
  /** Top-level attributes to read (all when absent). */
  attributes?: string[];
  /** Strongly consistent reads (default true: verify must see the latest writes). */
  consistentRead?: boolean;
}

/** Reads `keys`; returns the items found, by keyId. */
export async function batchGetItems(
  doc: DynamoDBDocumentClient,
  tableName: string,
  keySchema: KeySchema,
  keys: readonly Record<string, unknown>[],
  options: BatchGetOptions,
): Promise<Map<string, Record<string, unknown>>> {
  if (keys.length === 0) return new Map();
  // Keys may come as whole records: only the key attributes go into the request.
  const unique = new Map(keys.map((k) => [keyId(keySchema, k), keyOf(keySchema, k)]));
  const all = [...unique.values()];
  const found = new Map<string, Record<string, unknown>>();
  const chunks: ItemKey[][] = [];
  for (let i = 0; i < all.length; i += BATCH_GET_MAX) chunks.push(all.slice(i, i + BATCH_GET_MAX));
  for (let i = 0; i < chunks.length; i += BATCH_GET_CONCURRENCY) {
    const group = chunks.slice(i, i + BATCH_GET_CONCURRENCY);
    const results = await Promise.all(group.map((chunk) => getChunk(doc, tableName, keySchema, chunk, options)));
    for (const items of results) for (const item of items) found.set(keyId(keySchema, item), item);
  }
  return found;
}

function projection(keySchema: KeySchema, attributes: string[] | undefined) {
  if (!attributes) return {};
  const names = [...new Set([...keyNames(keySchema), ...attributes])];
  return {
    ProjectionExpression: names.map((_, i) => `#a${i}`).join(", "),
    ExpressionAttributeNames: Object.fromEntries(names.map((n, i) => [`#a${i}`, n])),
  };
}

async function getChunk(
  doc: DynamoDBDocumentClient,
  tableName: string,
  keySchema: KeySchema,
  keys: ItemKey[],
  options: BatchGetOptions,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  const shape = projection(keySchema, options.attributes);
  let pending: Record<string, unknown>[] = keys as unknown as Record<string, unknown>[];
  // Attempts count only calls that made no progress: a 16 MB response cut short is not throttling.
  for (let stalled = 0; pending.length > 0; ) {
    if (stalled >= options.backoff.maxAttempts) throw new UnprocessedKeysError(tableName, pending.length, stalled);
    if (stalled > 0) await sleep(backoffDelay(stalled, options.backoff));
    const out = await doc.send(
      new BatchGetCommand({
        RequestItems: { [tableName]: { Keys: pending, ConsistentRead: options.consistentRead ?? true, ...shape } },
        ReturnConsumedCapacity: "TOTAL",
      }),
    );
    for (const c of out.ConsumedCapacity ?? []) options.stats.consumedReadUnits += c.CapacityUnits ?? 0;
    const got = out.Responses?.[tableName] ?? [];
    items.push(...got);
    const left = out.UnprocessedKeys?.[tableName]?.Keys ?? [];
    stalled = got.length === 0 && left.length > 0 ? stalled + 1 : left.length > 0 ? 1 : 0;
    pending = left;
  }
  return items;
}

/** Reads `keys` and answers in their order; a missing item is `undefined` at its position. */
export async function batchGetInOrder(
  doc: DynamoDBDocumentClient,
  tableName: string,
  keySchema: KeySchema,
  keys: readonly Record<string, unknown>[],
  options: BatchGetOptions,
): Promise<(Record<string, unknown> | undefined)[]> {
  const found = await batchGetItems(doc, tableName, keySchema, keys, options);
  return keys.map((key) => found.get(keyId(keySchema, key)));
}
