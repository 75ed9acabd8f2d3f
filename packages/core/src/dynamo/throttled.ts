/**
 * Throttling that outlasted the SDK's own retries: which errors it is, and a call made again
 * with backoff while it keeps meeting them, so one throttled call of many does not fail the
 * batch, page or window it belongs to.
 */
import { type BackoffOptions, DEFAULT_BACKOFF, backoffDelay, sleep } from "../util/backoff.ts";

/** Errors of a whole call that heal by waiting. */
export const THROTTLED_CALLS: ReadonlySet<string> = new Set(["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"]);

/** The same throttling as reported per action or statement (CancellationReasons, BatchExecuteStatement's Responses). */
export const THROTTLED_CODES: ReadonlySet<string> = new Set(["ProvisionedThroughputExceeded", "ThrottlingError", "RequestLimitExceeded"]);

/** True for an error of a whole call that heals by waiting (THROTTLED_CALLS). */
export function isThrottled(err: unknown): err is Error {
  return err instanceof Error && THROTTLED_CALLS.has(err.name);
}

/** Counts the throttled calls sent again, for a caller that adapts its rate to them (the backfill's page). */
export interface ThrottleTally {
  throttled: number;
}

/**
 * Runs `call` again with backoff while it fails with throttling, up to `backoff.maxAttempts`
 * times, then rethrows the last error; each retry is counted in `tally`.
 *
 * @example
 * const out = await retryThrottled(() => doc.send(new PutCommand(input)));
 */
export async function retryThrottled<T>(call: () => Promise<T>, backoff: BackoffOptions = DEFAULT_BACKOFF, tally?: ThrottleTally): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!isThrottled(err) || attempt >= backoff.maxAttempts) throw err;
      if (tally) tally.throttled++;
      await sleep(backoffDelay(attempt, backoff));
    }
  }
}
