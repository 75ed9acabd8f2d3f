/**
 * Delivers one page of a shard's records to the handler with Lambda's semantics for
 * ReportBatchItemFailures + BisectBatchOnFunctionError + MaximumRetryAttempts +
 * MaximumRecordAgeInSeconds, checkpointing each time a longer prefix of the page is done.
 *
 * - Filter criteria are applied first: records that do not match are done ("filtered").
 * - Reported failures: records before the lowest failed sequence number are done; the
 *   batch is retried from the failed record (Lambda bisects at that record).
 * - A throw (or an invalid response): with bisection the batch is split in two halves that
 *   are retried in order; a single record (or any batch without bisection) is retried.
 * - A record's attempts are the failed invocations in which it was the failing record
 *   (the lowest reported one, or the batch that threw without being split); splits do not
 *   count, as on AWS. Once attempts exceed maximumRetryAttempts, or the record is older
 *   than maximumRecordAgeInSeconds, it is dead-lettered and the page goes on.
 */
import type { Context, DynamoDBRecord } from "aws-lambda";
import type { StreamSettings } from "../dualwrite/stream-settings.ts";
import { type BackoffOptions, backoffDelay, sleep } from "../util/backoff.ts";
import { type DeadLetter, type DeadLetterCause, type DeadLetterStore, keysOf } from "./stream-dead-letters.ts";
import { type StreamHandler, sequenceOf } from "../streams/lambda-event.ts";
import type { MappingEvent } from "./stream-events.ts";
import type { RecordFilter } from "./stream-filter.ts";

/** What delivering a shard's pages needs; one per shard. */
export interface DeliveryContext {
  streamArn: string;
  shardId: string;
  settings: StreamSettings;
  handler: StreamHandler;
  filter: RecordFilter;
  deadLetters: DeadLetterStore;
  /** Persists "every record up to this sequence number is done". */
  checkpoint: (sequenceNumber: string) => Promise<void>;
  /** Failed attempts per sequence number (kept across pages of the shard). */
  attempts: Map<string, number>;
  signal: AbortSignal;
  retryBackoff: BackoffOptions;
  now: () => number;
  random: () => number;
  lambdaContext: () => Context;
  emit: (event: MappingEvent) => void;
}

type Outcome = { kind: "ok" } | { kind: "partial"; index: number } | { kind: "error"; message: string };

/** Processes `records` (one GetRecords page, in order) to the end; false when stopped by the signal first. */
export async function deliverPage(records: DynamoDBRecord[], ctx: DeliveryContext): Promise<boolean> {
  const progress = new PageProgress(records, ctx.checkpoint);
  const matching: DynamoDBRecord[] = [];
  const filtered: DynamoDBRecord[] = [];
  for (const record of records) (ctx.filter(record) ? matching : filtered).push(record);
  if (filtered.length > 0) ctx.emit({ type: "filtered", shardId: ctx.shardId, count: filtered.length });
  progress.done(filtered);
  await progress.flush();

  const queue: DynamoDBRecord[][] = chunks(matching, Math.max(1, ctx.settings.batchSize));
  while (queue.length > 0) {
    if (ctx.signal.aborted) return false;
    const candidate = queue.shift() ?? [];
    const expired = candidate.filter((r) => isExpired(r, ctx));
    for (const record of expired) await giveUp(record, "record-expired", ageReason(record, ctx), ctx);
    progress.done(expired);
    await progress.flush();
    const batch = expired.length === 0 ? candidate : candidate.filter((r) => !expired.includes(r));
    if (batch.length === 0) continue;

    const outcome = await invoke(batch, ctx);
    const delivered = outcome.kind === "ok" ? batch.length : outcome.kind === "partial" ? outcome.index : 0;
    ctx.emit(batchEvent(batch, outcome, delivered, ctx));
    progress.done(batch.slice(0, delivered));
    for (const record of batch.slice(0, delivered)) ctx.attempts.delete(sequenceOf(record));

    if (outcome.kind === "ok") {
      await progress.flush();
      continue;
    }
    if (outcome.kind === "error" && ctx.settings.bisectBatchOnFunctionError && batch.length > 1) {
      const half = Math.ceil(batch.length / 2);
      ctx.emit({ type: "bisect", shardId: ctx.shardId, size: batch.length, halves: [half, batch.length - half] });
      queue.unshift(batch.slice(0, half), batch.slice(half));
      continue;
    }
    // The failing records: the reported one and what follows, or the whole unsplit batch.
    const rest = batch.slice(delivered);
    const failing = rest[0];
    if (!failing) continue;
    await progress.flush();
    const attempt = (ctx.attempts.get(sequenceOf(failing)) ?? 0) + 1;
    ctx.attempts.set(sequenceOf(failing), attempt);
    const message = outcome.kind === "error" ? outcome.message : "reported in batchItemFailures";
    if (exhausted(attempt, ctx.settings)) {
      const givenUp = outcome.kind === "error" ? rest : [failing];
      for (const record of givenUp) await giveUp(record, "retries-exhausted", message, ctx);
      progress.done(givenUp);
      await progress.flush();
      const remaining = rest.slice(givenUp.length);
      if (remaining.length > 0) queue.unshift(remaining);
      continue;
    }
    const delayMs = backoffDelay(attempt, ctx.retryBackoff, ctx.random);
    ctx.emit({ type: "retry", shardId: ctx.shardId, sequenceNumber: sequenceOf(failing), attempt, delayMs, reason: message });
    queue.unshift(rest);
    if (!(await pause(delayMs, ctx.signal))) return false;
  }
  return true;
}

async function invoke(batch: DynamoDBRecord[], ctx: DeliveryContext): Promise<Outcome> {
  let response: unknown;
  try {
    response = await ctx.handler({ Records: batch }, ctx.lambdaContext());
  } catch (err) {
    return { kind: "error", message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
  if (!ctx.settings.functionResponseTypes.includes("ReportBatchItemFailures")) return { kind: "ok" };
  const failures = (response as { batchItemFailures?: unknown } | null | undefined)?.batchItemFailures;
  if (failures === undefined || failures === null || (Array.isArray(failures) && failures.length === 0)) return { kind: "ok" };
  if (!Array.isArray(failures)) return { kind: "error", message: "invalid response: batchItemFailures is not an array" };
  let lowest = Number.POSITIVE_INFINITY;
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    const index = typeof id === "string" && id !== "" ? batch.findIndex((r) => sequenceOf(r) === id) : -1;
    // Lambda treats an empty, null or unknown itemIdentifier as a failure of the whole batch.
    if (index < 0) return { kind: "error", message: `invalid response: itemIdentifier ${JSON.stringify(id)} is not a sequence number of the batch` };
    lowest = Math.min(lowest, index);
  }
  return { kind: "partial", index: lowest };
}

async function giveUp(record: DynamoDBRecord, cause: DeadLetterCause, message: string, ctx: DeliveryContext): Promise<void> {
  const sequenceNumber = sequenceOf(record);
  const handlerReason = await ctx.deadLetters.failureReason(sequenceNumber);
  const deadLetter: DeadLetter = {
    streamArn: ctx.streamArn,
    shardId: ctx.shardId,
    sequenceNumber,
    keys: keysOf(record),
    cause,
    reason: cause === "record-expired" ? `${message}${handlerReason ? `; last failure: ${handlerReason}` : ""}` : (handlerReason ?? message),
    attempts: ctx.attempts.get(sequenceNumber) ?? 0,
    at: new Date(ctx.now()).toISOString(),
  };
  if (record.eventID) deadLetter.eventID = record.eventID;
  if (record.eventName) deadLetter.eventName = record.eventName;
  if (record.dynamodb?.ApproximateCreationDateTime !== undefined) deadLetter.createdAt = record.dynamodb.ApproximateCreationDateTime;
  await ctx.deadLetters.put(deadLetter);
  ctx.attempts.delete(sequenceNumber);
  ctx.emit({ type: "dead-letter", deadLetter });
}

function exhausted(attempt: number, settings: StreamSettings): boolean {
  return settings.maximumRetryAttempts >= 0 && attempt > settings.maximumRetryAttempts;
}

function ageMs(record: DynamoDBRecord, ctx: DeliveryContext): number | undefined {
  const created = record.dynamodb?.ApproximateCreationDateTime;
  return created === undefined ? undefined : ctx.now() - created * 1000;
}

function isExpired(record: DynamoDBRecord, ctx: DeliveryContext): boolean {
  const limit = ctx.settings.maximumRecordAgeInSeconds;
  const age = ageMs(record, ctx);
  return limit >= 0 && age !== undefined && age > limit * 1000;
}

function ageReason(record: DynamoDBRecord, ctx: DeliveryContext): string {
  const age = Math.round((ageMs(record, ctx) ?? 0) / 1000);
  return `record is ${age} s old, older than maximumRecordAgeInSeconds (${ctx.settings.maximumRecordAgeInSeconds} s)`;
}

function batchEvent(batch: DynamoDBRecord[], outcome: Outcome, delivered: number, ctx: DeliveryContext): MappingEvent {
  const last = batch[batch.length - 1];
  const lag = last ? ageMs(last, ctx) : undefined;
  return {
    type: "batch",
    shardId: ctx.shardId,
    size: batch.length,
    outcome: outcome.kind,
    delivered,
    firstSequenceNumber: batch[0] ? sequenceOf(batch[0]) : "",
    lastSequenceNumber: last ? sequenceOf(last) : "",
    ...(lag !== undefined ? { lagMs: Math.max(0, lag) } : {}),
    ...(outcome.kind === "error" ? { error: outcome.message } : {}),
  };
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Waits `ms`; false when the signal fired first. */
export async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, signal);
    return true;
  } catch {
    return false;
  }
}

/** Which records of a page are done, and the checkpoint of the longest done prefix. */
class PageProgress {
  private readonly isDone: boolean[];
  private readonly index = new Map<DynamoDBRecord, number>();
  private prefix = 0;
  private checkpointed = 0;

  constructor(
    private readonly records: DynamoDBRecord[],
    private readonly checkpoint: (sequenceNumber: string) => Promise<void>,
  ) {
    this.isDone = records.map(() => false);
    for (const [i, r] of records.entries()) this.index.set(r, i);
  }

  done(records: DynamoDBRecord[]): void {
    for (const r of records) {
      const i = this.index.get(r);
      if (i !== undefined) this.isDone[i] = true;
    }
  }

  async flush(): Promise<void> {
    while (this.prefix < this.records.length && this.isDone[this.prefix]) this.prefix++;
    const last = this.records[this.prefix - 1];
    if (this.prefix > this.checkpointed && last) {
      await this.checkpoint(sequenceOf(last));
      this.checkpointed = this.prefix;
    }
  }
}
