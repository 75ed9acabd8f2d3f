/**
 * TransactWriteItems, once for every writer that needs all-or-nothing units (the backfill's
 * conversions, verify's repairs): packing parts into calls under DynamoDB's limits, reading
 * CancellationReasons to tell a unit refused by its own condition (dropped, the rest resent
 * at once) from contention and throttling (the call waits with backoff and is resent), and
 * a typed error for every other cancellation and for retries that ran out.
 */
import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { FerryError } from "../errors.ts";
import { type BackoffOptions, backoffDelay, sleep } from "../util/backoff.ts";
import { THROTTLED_CODES, isThrottled } from "./throttled.ts";

/** DynamoDB's limits per TransactWriteItems call. */
export const TRANSACTION_MAX_ACTIONS = 100;
export const TRANSACTION_BYTE_BUDGET = 3_500_000; // under the 4 MB request limit, with room for overhead

/** Cancellation reasons that heal by waiting: contention with another transaction, throttling. */
export const RETRYABLE_REASONS: ReadonlySet<string> = new Set(["TransactionConflict", ...THROTTLED_CODES]);

/** The reason a unit's condition (its ConditionCheck or a write's condition) did not hold. */
export const REFUSED_REASON = "ConditionalCheckFailed";

/** One transaction action (ConditionCheck, Put, Delete, Update) as lib-dynamodb takes it. */
export type TransactionAction = Record<string, unknown>;

/** A part of a unit: actions that go into one call together. A unit too big for one call has several parts. */
export interface TransactionPart<Unit> {
  unit: Unit;
  actions: TransactionAction[];
  /** How many of `actions` are writes (the rest are condition checks). */
  writes: number;
  /** Estimated request bytes. */
  bytes: number;
}

/** A cancellation that is neither a refused condition nor contention (e.g. ValidationError, ItemCollectionSizeLimitExceeded). */
export class TransactionCancelledError extends FerryError {
  constructor(
    readonly data: { reasons: string[] },
    options?: { cause?: unknown },
  ) {
    super(`TransactWriteItems was cancelled: ${data.reasons.join(", ")}`, options);
  }
}

/** Contention or throttling outlasted the backoff. `advice` says what the caller's user can do. */
export class TransactionRetriesExhaustedError extends FerryError {
  constructor(
    readonly reasons: string[],
    readonly attempts: number,
    advice = "lower the rate and run the command again",
    options?: { cause?: unknown },
  ) {
    super(`TransactWriteItems kept failing after ${attempts} attempts (${reasons.join(", ")}); the table is throttling or contended: ${advice}.`, options);
  }
}

/** Packs parts, in order, into as few TransactWriteItems calls as the action and byte limits allow. */
export function packParts<P extends { actions: readonly unknown[]; bytes: number }>(parts: Iterable<P>): P[][] {
  const calls: P[][] = [];
  let current: P[] = [];
  let actions = 0;
  let bytes = 0;
  for (const part of parts) {
    if (current.length > 0 && (actions + part.actions.length > TRANSACTION_MAX_ACTIONS || bytes + part.bytes > TRANSACTION_BYTE_BUDGET)) {
      calls.push(current);
      current = [];
      actions = 0;
      bytes = 0;
    }
    current.push(part);
    actions += part.actions.length;
    bytes += part.bytes;
  }
  if (current.length > 0) calls.push(current);
  return calls;
}

/**
 * Which action of a unit's part failed its condition: its index in the part's actions, the
 * action, and the item the key held (with ReturnValuesOnConditionCheckFailure, as sent).
 */
export interface Refusal {
  index: number;
  action: TransactionAction;
  item?: unknown;
}

/** What a cancellation says about the parts of the call: which units were refused (and by which action), whether waiting may help. */
export function classifyCancellation<Unit>(
  parts: readonly TransactionPart<Unit>[],
  err: TransactionCanceledException,
): { refused: Map<Unit, Refusal>; retryable: boolean; reasons: string[] } {
  const given = err.CancellationReasons ?? [];
  const reasons = given.map((r) => r.Code ?? "None");
  const refused = new Map<Unit, Refusal>();
  let retryable = false;
  let offset = 0;
  for (const part of parts) {
    const codes = reasons.slice(offset, offset + part.actions.length);
    const index = codes.indexOf(REFUSED_REASON);
    if (index >= 0) refused.set(part.unit, { index, action: part.actions[index] as TransactionAction, item: given[offset + index]?.Item });
    else if (codes.some((c) => RETRYABLE_REASONS.has(c))) retryable = true;
    offset += part.actions.length;
  }
  return { refused, retryable, reasons };
}

export interface TransactionRunOptions {
  backoff: BackoffOptions;
  /** Called before every call and every resend (the backfill's run fence throws here to stop). */
  beforeCall?: () => Promise<void>;
  /** The advice of TransactionRetriesExhaustedError. */
  advice?: string;
}

export interface TransactionRunResult<Unit> {
  /** Writes done per unit (a unit with several parts is complete when all its writes are). */
  written: Map<Unit, number>;
  /** Units refused by a condition, with the action that failed: nothing of them was written. */
  refused: Map<Unit, Refusal>;
  calls: number;
  /** Calls resent after contention or a refused unit. */
  retries: number;
  consumedWriteUnits: number;
}

/**
 * Sends each call; a unit refused by its condition is dropped and the rest of its call resent
 * at once; contention and throttling wait with backoff (at most `backoff.maxAttempts` times
 * per call, then TransactionRetriesExhaustedError); any other cancellation throws
 * TransactionCancelledError.
 */
export async function runTransactions<Unit>(
  doc: DynamoDBDocumentClient,
  calls: Iterable<TransactionPart<Unit>[]>,
  options: TransactionRunOptions,
): Promise<TransactionRunResult<Unit>> {
  const result: TransactionRunResult<Unit> = { written: new Map(), refused: new Map(), calls: 0, retries: 0, consumedWriteUnits: 0 };
  for (const call of calls) {
    let parts = call;
    let contended = 0;
    let wait = false;
    let first = true;
    while (parts.length > 0) {
      parts = parts.filter((p) => !result.refused.has(p.unit));
      if (parts.length === 0) break;
      if (!first) result.retries++;
      first = false;
      if (wait) await sleep(backoffDelay(contended, options.backoff));
      await options.beforeCall?.();
      result.calls++;
      try {
        const out = await doc.send(new TransactWriteCommand({ TransactItems: parts.flatMap((p) => p.actions) as never, ReturnConsumedCapacity: "TOTAL" }));
        for (const c of out.ConsumedCapacity ?? []) result.consumedWriteUnits += c.CapacityUnits ?? 0;
        for (const p of parts) result.written.set(p.unit, (result.written.get(p.unit) ?? 0) + p.writes);
        parts = [];
      } catch (err) {
        // The whole call throttled (past the SDK's own retries): wait and resend it, like contention.
        if (isThrottled(err)) {
          if (++contended >= options.backoff.maxAttempts) throw new TransactionRetriesExhaustedError([err.name], contended, options.advice, { cause: err });
          wait = true;
          continue;
        }
        if (!(err instanceof TransactionCanceledException)) throw err;
        const verdict = classifyCancellation(parts, err);
        for (const [unit, refusal] of verdict.refused) result.refused.set(unit, refusal);
        if (verdict.refused.size === 0 && !verdict.retryable) throw new TransactionCancelledError({ reasons: verdict.reasons }, { cause: err });
        // A refused unit is dropped and the rest resent at once; contention alone waits.
        wait = verdict.refused.size === 0;
        if (wait && ++contended >= options.backoff.maxAttempts) {
          throw new TransactionRetriesExhaustedError(verdict.reasons, contended, options.advice, { cause: err });
        }
      }
    }
  }
  return result;
}
