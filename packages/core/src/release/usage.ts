/**
 * Per-version request counters. Servers count requests in memory and flush them every few
 * seconds (on a timer, on shutdown, and on Lambda by the invocation that passes the
 * interval) as one UpdateItem per (version, minute): cheap at any request rate, and enough
 * for the remove step's guard ("no v1 request in the last N minutes") and for
 * `ferry status`. What a server holds uncounted it declares in its server record
 * (./server-record.ts) before answering, so the guard sees it too. Minute records expire
 * after a week (TTL attribute `expiresAt`).
 */
import { QueryCommand, UpdateCommand, paginateQuery } from "@aws-sdk/lib-dynamodb";
import { FerryError } from "../errors.ts";
import { type ControlLocation, ControlSk, migrationPk, controlKey } from "../control/keys.ts";
import { isMissingTable } from "../dynamo/missing-table.ts";
import type { ApiVersion } from "./config.ts";
import { USAGE_RETENTION_SECONDS, newServerId, writeServerRecord } from "./server-record.ts";

export { USAGE_RETENTION_SECONDS };

/** The minute bucket of a time: ISO to the minute. */
export function minuteOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16);
}

export interface UsageCounterOptions {
  /** Flush when this long has passed since the last flush (ms); the timer (`start`) flushes at this period. */
  flushIntervalMs: number;
  /** This server in its control record (one id per process). */
  serverId: string;
  /** Failures of timer flushes (nobody awaits those). */
  onError: (err: unknown) => void;
  now: () => number;
}

/** One id for every counter of this process. */
const PROCESS_SERVER_ID = newServerId();

export const DEFAULT_USAGE_COUNTER_OPTIONS: UsageCounterOptions = {
  flushIntervalMs: 5_000,
  serverId: PROCESS_SERVER_ID,
  onError: (err) => console.error("usage flush failed", err),
  now: Date.now,
};

/** A v1 request could not be declared in the server record, so it is not answered (the remove guard would not see it). */
export class UsageNotRecordedError extends FerryError {
  constructor(
    readonly migrationId: string,
    cause: unknown,
  ) {
    super(`Could not record v1 usage of ${migrationId} in the control table (${cause instanceof Error ? cause.name : "error"}); retry the request.`, { cause });
  }
}

interface PendingCount {
  version: ApiVersion;
  minute: string;
  count: number;
  firstAt: number;
  lastAt: number;
}

/** The newest server-record write: what it says once computed (at its turn in the queue), and whether it landed. */
interface Declaration {
  computed?: { holdsV1: boolean; until: number };
  written: Promise<boolean>;
  settle: (ok: boolean) => void;
}

function newDeclaration(): Declaration {
  let settle!: (ok: boolean) => void;
  const written = new Promise<boolean>((resolve) => (settle = resolve));
  return { written, settle };
}

/** What `record` hands the caller. */
export interface Counted {
  /** Resolves when the request may be answered: for v1, once the server record covers it (rejects with UsageNotRecordedError). */
  ready: Promise<void>;
  /** Set when the interval elapsed: the flush this request started. */
  flush?: Promise<void>;
}

/**
 * In-memory counts for one migration's routes, flushed in batches. Every control-table
 * write (counts and server record) goes through one queue, so a record computed after a
 * flush never lands before it, and a record saying "holds no v1" is computed only when no
 * v1 count is pending or in flight.
 */
export class UsageCounter {
  private pending = new Map<string, PendingCount>();
  private lastFlush: number;
  private queue: Promise<unknown> = Promise.resolve();
  private declared?: Declaration;
  private flushedAt?: number;
  /** A record write was attempted (so a clean stop has a record to close). */
  private recordTried = false;
  /** The last record write failed: the stored record may be out of date. */
  private recordStale = false;
  private timer?: ReturnType<typeof setInterval>;
  private readonly startedAt: number;
  private readonly options: UsageCounterOptions;

  constructor(
    private readonly location: ControlLocation,
    options: Partial<UsageCounterOptions> = {},
  ) {
    this.options = { ...DEFAULT_USAGE_COUNTER_OPTIONS, ...options };
    this.lastFlush = this.options.now();
    this.startedAt = this.lastFlush;
  }

  get serverId(): string {
    return this.options.serverId;
  }

  /** Counts one request; await `ready` before answering it. */
  record(version: ApiVersion): Counted {
    const at = this.options.now();
    const minute = minuteOf(at);
    const key = `${version}#${minute}`;
    const entry = this.pending.get(key) ?? { version, minute, count: 0, firstAt: at, lastAt: at };
    entry.count += 1;
    entry.lastAt = Math.max(entry.lastAt, at);
    this.pending.set(key, entry);
    const ready = version === "v1" ? this.cover(at) : Promise.resolve();
    return { ready, ...(at - this.lastFlush >= this.options.flushIntervalMs ? { flush: this.flush() } : {}) };
  }

  /** Flushes every `flushIntervalMs` until `stop` (long-running servers; Lambda freezes timers, so it flushes per invocation instead). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.flush().catch((err: unknown) => this.options.onError(err));
    }, this.options.flushIntervalMs);
    this.timer.unref?.();
  }

  /** Stops the timer, flushes everything and records the clean stop (only when nothing is left uncounted). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
    if (!this.recordTried) return; // never declared anything: no record to close
    await this.enqueue(async () => {
      if (this.pending.size > 0) return;
      const at = this.options.now();
      await writeServerRecord(this.location, { ...this.identity(at), until: at, stoppedAt: at });
    });
  }

  /** Writes every pending count (one flush at a time, none lost on failure), then the server record when it has changed. */
  flush(): Promise<void> {
    this.lastFlush = this.options.now();
    return this.enqueue(async () => {
      const snapshotAt = this.options.now();
      const batch = [...this.pending.values()];
      this.pending.clear();
      let failure: unknown;
      for (const [index, entry] of batch.entries()) {
        try {
          await this.location.doc.send(
            new UpdateCommand({
              TableName: this.location.controlTable,
              Key: controlKey(this.location.migrationId, ControlSk.usage(entry.version, entry.minute)),
              UpdateExpression: "ADD #count :n SET lastAt = :at, expiresAt = :ttl",
              ExpressionAttributeNames: { "#count": "count" },
              ExpressionAttributeValues: { ":n": entry.count, ":at": entry.lastAt, ":ttl": Math.floor(entry.lastAt / 1000) + USAGE_RETENTION_SECONDS },
            }),
          );
        } catch (err) {
          // Put the unwritten counts back so the next flush carries them.
          for (const rest of batch.slice(index)) this.restore(rest);
          failure = err;
          break;
        }
      }
      if (failure === undefined) this.flushedAt = snapshotAt;
      // Clear the declaration once its counts are written, or renew it while v1 counts are still held.
      const holdsV1 = this.pendingV1Since() !== undefined;
      if (holdsV1 || this.recordStale || this.declared?.computed?.holdsV1 || batch.some((e) => e.version === "v1")) {
        const ok = await this.writeRecord();
        if (!ok && failure === undefined) failure = new UsageNotRecordedError(this.location.migrationId, undefined);
      }
      if (failure !== undefined) throw failure;
    });
  }

  /** Makes sure the server record covers a v1 request answered at `at`. */
  private cover(at: number): Promise<void> {
    const newest = this.declared;
    const covers = newest && (newest.computed === undefined || (newest.computed.holdsV1 && newest.computed.until > at));
    const declaration = covers ? newest : this.declare();
    return declaration.written.then((ok) => {
      if (!ok) throw new UsageNotRecordedError(this.location.migrationId, undefined);
    });
  }

  /** Queues a record write stating what is held when its turn comes; until then it covers every request recorded. */
  private declare(): Declaration {
    const declaration = newDeclaration();
    this.declared = declaration;
    void this.enqueue(() => this.writeRecord(declaration));
    return declaration;
  }

  /** Computes the record now (inside the queue) and writes it; false when the write failed. */
  private async writeRecord(declaration: Declaration = newDeclaration()): Promise<boolean> {
    const at = this.options.now();
    const since = this.pendingV1Since();
    // The next timer flush is due within one interval; one more interval of grace for its writes.
    const until = at + 2 * this.options.flushIntervalMs;
    declaration.computed = { holdsV1: since !== undefined, until };
    this.recordTried = true;
    // The newest computed record is what the table will say: later requests judge by it.
    this.declared = declaration;
    try {
      await writeServerRecord(this.location, { ...this.identity(at), until, ...(since !== undefined ? { holdsV1Since: since } : {}) });
      this.recordStale = false;
      declaration.settle(true);
      return true;
    } catch (err) {
      if (this.declared === declaration) this.declared = undefined; // the next v1 request writes anew
      this.recordStale = true; // and the next flush, whatever it holds: the table may still say "holds v1"
      // No control table: no migration was added, so there is no remove guard to inform (the counts stay pending).
      const missingTable = isMissingTable(err);
      declaration.settle(missingTable);
      if (!missingTable) this.options.onError(err);
      return missingTable;
    }
  }

  private identity(at: number) {
    const [host = "", pid = ""] = this.options.serverId.split(":");
    return {
      serverId: this.options.serverId,
      host,
      pid: Number(pid) || process.pid,
      startedAt: this.startedAt,
      writtenAt: at,
      ...(this.flushedAt !== undefined ? { flushedAt: this.flushedAt } : {}),
    };
  }

  private pendingV1Since(): number | undefined {
    let since: number | undefined;
    for (const entry of this.pending.values()) if (entry.version === "v1") since = Math.min(since ?? entry.firstAt, entry.firstAt);
    return since;
  }

  /** Runs `task` after every queued write; a failed task does not stop the ones after it. */
  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private restore(entry: PendingCount) {
    const key = `${entry.version}#${entry.minute}`;
    const current = this.pending.get(key);
    if (current) {
      current.count += entry.count;
      current.firstAt = Math.min(current.firstAt, entry.firstAt);
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
