/**
 * Per-version request counters. Servers count requests in memory and flush them at most
 * every few seconds as one UpdateItem per (version, minute): cheap at any request rate,
 * and enough for the remove step's guard ("no v1 request in the last N minutes") and for
 * `ferry status`. Minute records expire after a week (TTL attribute `expiresAt`).
 */
import { QueryCommand, UpdateCommand, paginateQuery } from "@aws-sdk/lib-dynamodb";
import { type ControlLocation, ControlSk, migrationPk } from "../control/keys.ts";
import type { ApiVersion } from "./config.ts";

export const USAGE_RETENTION_SECONDS = 7 * 86_400;

/** The minute bucket of a time: ISO to the minute. */
export function minuteOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16);
}

export interface UsageCounterOptions {
  /** Flush when this long has passed since the last flush (ms). */
  flushIntervalMs: number;
  now: () => number;
}

export const DEFAULT_USAGE_COUNTER_OPTIONS: UsageCounterOptions = { flushIntervalMs: 5_000, now: Date.now };

/** In-memory counts for one migration's routes, flushed in batches. */
export class UsageCounter {
  private pending = new Map<string, { version: ApiVersion; minute: string; count: number; lastAt: number }>();
  private lastFlush: number;
  private flushing: Promise<void> = Promise.resolve();
  private readonly options: UsageCounterOptions;

  constructor(
    private readonly location: ControlLocation,
    options: Partial<UsageCounterOptions> = {},
  ) {
    this.options = { ...DEFAULT_USAGE_COUNTER_OPTIONS, ...options };
    this.lastFlush = this.options.now();
  }

  /** Counts one request; returns a flush promise when the interval elapsed (else undefined). */
  record(version: ApiVersion): Promise<void> | undefined {
    const at = this.options.now();
    const minute = minuteOf(at);
    const key = `${version}#${minute}`;
    const entry = this.pending.get(key) ?? { version, minute, count: 0, lastAt: at };
    entry.count += 1;
    entry.lastAt = Math.max(entry.lastAt, at);
    this.pending.set(key, entry);
    return at - this.lastFlush >= this.options.flushIntervalMs ? this.flush() : undefined;
  }

  /** Writes every pending count (serialised: one flush at a time, none lost on failure). */
  flush(): Promise<void> {
    this.lastFlush = this.options.now();
    const batch = [...this.pending.values()];
    this.pending.clear();
    this.flushing = this.flushing.then(async () => {
      for (const [index, entry] of batch.entries()) {
        try {
          await this.location.doc.send(
            new UpdateCommand({
              TableName: this.location.controlTable,
              Key: { PK: migrationPk(this.location.migrationId), SK: ControlSk.usage(entry.version, entry.minute) },
              UpdateExpression: "ADD #count :n SET lastAt = :at, expiresAt = :ttl",
              ExpressionAttributeNames: { "#count": "count" },
              ExpressionAttributeValues: { ":n": entry.count, ":at": entry.lastAt, ":ttl": Math.floor(entry.lastAt / 1000) + USAGE_RETENTION_SECONDS },
            }),
          );
        } catch (err) {
          // Put the unwritten counts back so the next flush carries them.
          for (const rest of batch.slice(index)) this.restore(rest);
          throw err;
        }
      }
    });
    return this.flushing;
  }

  private restore(entry: { version: ApiVersion; minute: string; count: number; lastAt: number }) {
    const key = `${entry.version}#${entry.minute}`;
    const current = this.pending.get(key);
    if (current) {
      current.count += entry.count;
      current.lastAt = Math.max(current.lastAt, entry.lastAt);
    } else this.pending.set(key, { ...entry });
  }
}

/** Requests of one version since a time, and the last time it was used at all. */
export interface VersionUsage {
  version: ApiVersion;
  /**
   * Requests counted in minute buckets from `since`'s minute on: minute-granular, so it may
   * include requests made earlier in that minute. For "unused since T" compare `lastUsedAt`.
   */
  requestsSince: number;
  /** ms since the epoch, exact to the flush (at most the flush interval behind); undefined when never used (within the retention). */
  lastUsedAt?: number;
}

/** Reads the minute buckets of a version from `sinceMs` on. */
export async function readUsage(location: ControlLocation, version: ApiVersion, sinceMs: number): Promise<VersionUsage> {
  let requestsSince = 0;
  let lastUsedAt: number | undefined;
  const pages = paginateQuery(
    { client: location.doc },
    {
      TableName: location.controlTable,
      KeyConditionExpression: "PK = :pk AND SK BETWEEN :from AND :to",
      ExpressionAttributeValues: {
        ":pk": migrationPk(location.migrationId),
        ":from": ControlSk.usage(version, minuteOf(sinceMs)),
        ":to": `${ControlSk.usageOf(version)}\uffff`,
      },
      ConsistentRead: true,
    },
  );
  for await (const page of pages) {
    for (const item of page.Items ?? []) {
      requestsSince += Number(item.count ?? 0);
      if (typeof item.lastAt === "number") lastUsedAt = Math.max(lastUsedAt ?? 0, item.lastAt);
    }
  }
  if (lastUsedAt === undefined) {
    // Older than the window: the newest bucket says when the version was last used.
    const newest = await location.doc.send(
      new QueryCommand({
        TableName: location.controlTable,
        KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
        ExpressionAttributeValues: { ":pk": migrationPk(location.migrationId), ":prefix": ControlSk.usageOf(version) },
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    const item = newest.Items?.[0];
    if (typeof item?.lastAt === "number") lastUsedAt = item.lastAt;
  }
  return { version, requestsSince, ...(lastUsedAt !== undefined ? { lastUsedAt } : {}) };
}
