/** Exponential backoff with full jitter (AWS Architecture Blog), used by every retry loop. */

export interface BackoffOptions {
  /** First delay ceiling in ms. */
  baseMs: number;
  /** Largest delay ceiling in ms. */
  maxMs: number;
  /** Attempts before giving up (including the first). */
  maxAttempts: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 50, maxMs: 5_000, maxAttempts: 10 };

/** Delay before retry number `attempt` (1-based): random in [0, min(max, base * 2^(attempt-1))]. */
export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF, random = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
