/**
 * Counts a request for the remove guard before it is answered. The count itself is batched
 * (release/usage.ts); a v1 request waits until this server's record declares it
 * (release/server-record.ts), and when that record cannot be written the request is refused
 * with a 503 (UsageUnrecordedError, Retry-After) rather than answered unseen: the guarantees
 * of README "Usage counts and the remove guard" hold for every app built on this library.
 */
import { UsageUnrecordedError } from "../api/errors.ts";
import type { ReleaseCache } from "../release/cache.ts";
import type { ApiVersion } from "../release/config.ts";
import type { Background } from "./background.ts";

export async function countRequest(release: ReleaseCache, version: ApiVersion, background: Background, onError: (err: unknown) => void): Promise<void> {
  const counted = release.usage.record(version);
  const flush = counted.flush;
  // The flush this request started runs after the answer (drained before a Lambda returns).
  if (flush) background.run(() => flush);
  await counted.ready.catch((err: unknown) => {
    onError(err);
    throw new UsageUnrecordedError({ cause: err });
  });
}
