/**
 * BatchGetItem of any number of keys: chunks of at most 100 (the API's limit), every
 * `UnprocessedKeys` retried with jittered backoff, results returned in the order of the
 * keys asked for (BatchGetItem itself answers in no particular order).
 */
import { BatchGetCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { FerryError } from "../errors.ts";
import { type BackoffOptions, DEFAULT_BACKOFF, backoffDelay, sleep } from "../util/backoff.ts";

/** BatchGetItem's limit of keys per request. */
export const BATCH_GET_MAX = 100;

export interface BatchGetOptions {
  backoff: BackoffOptions;
  /** Attributes to read (all when omitted). */
  projection?: string[];
  consistentRead: boolean;
}

export const DEFAULT_BATCH_GET_OPTIONS: BatchGetOptions = { backoff: DEFAULT_BACKOFF, consistentRead: false };

/** DynamoDB kept returning some keys unprocessed. */
export class UnprocessedKeysError extends FerryError {
  constructor(
    readonly tableName: string,
    readonly remaining: number,
  ) {
    super(`${remaining} keys of ${tableName} stayed unprocessed after every retry (throttling?); retry the request later.`);
  }
}

type Key = { PK: string; SK: string };

const keyString = (key: Record<string, unknown>) => `${String(key.PK)}\u0000${String(key.SK)}`;

/** Reads every key; missing items are `undefined` at their position. */
export async function batchGetInOrder(
  doc: DynamoDBDocumentClient,
  tableName: string,
  keys: Key[],
  options: Partial<BatchGetOptions> = {},
): Promise<(Record<string, unknown> | undefined)[]> {
  const o = { ...DEFAULT_BATCH_GET_OPTIONS, ...options };
  const found = new Map<string, Record<string, unknown>>();
  const unique = [...new Map(keys.map((k) => [keyString(k), { PK: k.PK, SK: k.SK }])).values()];
  const projection = o.projection ? [...new Set(["PK", "SK", ...o.projection])] : undefined;
  const names = projection ? Object.fromEntries(projection.map((a, i) => [`#p${i}`, a])) : undefined;

  for (let start = 0; start < unique.length; start += BATCH_GET_MAX) {
    let pending: Record<string, unknown>[] = unique.slice(start, start + BATCH_GET_MAX);
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > o.backoff.maxAttempts) throw new UnprocessedKeysError(tableName, pending.length);
      if (attempt > 1) await sleep(backoffDelay(attempt - 1, o.backoff));
      const out = await doc.send(
        new BatchGetCommand({
          RequestItems: {
            [tableName]: {
              Keys: pending,
              ConsistentRead: o.consistentRead,
              ...(names ? { ProjectionExpression: Object.keys(names).join(", "), ExpressionAttributeNames: names } : {}),
            },
          },
        }),
      );
      for (const item of out.Responses?.[tableName] ?? []) found.set(keyString(item), item);
      pending = (out.UnprocessedKeys?.[tableName]?.Keys as Record<string, unknown>[] | undefined) ?? [];
    }
  }
  return keys.map((k) => found.get(keyString(k)));
}
