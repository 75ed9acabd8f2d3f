/**
 * Writes many items with BatchWriteItem (25 per call, several calls in flight) and retries
 * `UnprocessedItems` with exponential backoff and jitter until every item is written.
 */
import { BatchWriteCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { FerryError } from "../errors.ts";
import { type BackoffOptions, DEFAULT_BACKOFF, backoffDelay, sleep } from "../util/backoff.ts";

/** DynamoDB's limit of put/delete requests per BatchWriteItem. */
export const BATCH_WRITE_MAX = 25;

export type WriteRequest = { PutRequest: { Item: Record<string, unknown> } } | { DeleteRequest: { Key: Record<string, unknown> } };

export interface BatchWriteOptions {
  /** Calls in flight at once. */
  concurrency: number;
  backoff: BackoffOptions;
  /** Called after each call with the number of items it wrote. */
  onProgress?: (written: number) => void;
}

export const DEFAULT_BATCH_WRITE_OPTIONS: BatchWriteOptions = { concurrency: 4, backoff: DEFAULT_BACKOFF };

export interface BatchWriteStats {
  written: number;
  calls: number;
  /** Calls that had to be repeated for unprocessed items. */
  retries: number;
  consumedWriteUnits: number;
}

export class UnprocessedItemsError extends FerryError {
  constructor(
    readonly tableName: string,
    readonly unprocessed: number,
    readonly attempts: number,
  ) {
    super(
      `${unprocessed} item(s) were still unprocessed by ${tableName} after ${attempts} attempts; ` +
        "the table is throttling: raise its capacity or lower the write rate, then run the command again.",
    );
  }
}

/** Writes one batch of at most 25 requests, retrying what DynamoDB leaves unprocessed. */
export async function writeBatch(
  doc: DynamoDBDocumentClient,
  tableName: string,
  requests: WriteRequest[],
  backoff: BackoffOptions = DEFAULT_BACKOFF,
  stats?: BatchWriteStats,
): Promise<void> {
  if (requests.length > BATCH_WRITE_MAX) throw new RangeError(`a batch holds at most ${BATCH_WRITE_MAX} requests`);
  let pending = requests;
  for (let attempt = 1; pending.length > 0; attempt++) {
    if (attempt > backoff.maxAttempts) throw new UnprocessedItemsError(tableName, pending.length, attempt - 1);
    if (attempt > 1) {
      if (stats) stats.retries++;
      await sleep(backoffDelay(attempt - 1, backoff));
    }
    const out = await doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: pending }, ReturnConsumedCapacity: "TOTAL" }));
    if (stats) {
      stats.calls++;
      for (const c of out.ConsumedCapacity ?? []) stats.consumedWriteUnits += c.CapacityUnits ?? 0;
    }
    const left = (out.UnprocessedItems?.[tableName] ?? []) as WriteRequest[];
    if (stats) stats.written += pending.length - left.length;
    pending = left;
  }
}

/** Puts every item of `items` (any iterable, consumed lazily) into `tableName`. */
export async function batchPutAll(
  doc: DynamoDBDocumentClient,
  tableName: string,
  items: Iterable<Record<string, unknown>> | AsyncIterable<Record<string, unknown>>,
  options: Partial<BatchWriteOptions> = {},
): Promise<BatchWriteStats> {
  const opts = { ...DEFAULT_BATCH_WRITE_OPTIONS, ...options };
  const stats: BatchWriteStats = { written: 0, calls: 0, retries: 0, consumedWriteUnits: 0 };
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let batch: WriteRequest[] = [];

  const launch = (requests: WriteRequest[]) => {
    const before = stats.written;
    const p = writeBatch(doc, tableName, requests, opts.backoff, stats)
      .then(() => opts.onProgress?.(stats.written - before))
      .catch((err) => {
        failure ??= err;
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };

  for await (const item of items) {
    if (failure) break;
    batch.push({ PutRequest: { Item: item } });
    if (batch.length === BATCH_WRITE_MAX) {
      launch(batch);
      batch = [];
      // Bounded parallelism keeps memory flat however many items come in.
      while (inFlight.size >= opts.concurrency) await Promise.race(inFlight);
    }
  }
  if (batch.length > 0 && !failure) launch(batch);
  await Promise.all(inFlight);
  if (failure) throw failure;
  return stats;
}
