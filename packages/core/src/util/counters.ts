/** Counter records (backfill pages, dual-write batches) added field by field. */

/** `a + b` for every counter of `a`. */
export function addCounts<T extends { [K in keyof T]: number }>(a: T, b: T): T {
  const out = { ...a };
  for (const k of Object.keys(a) as (keyof T)[]) out[k] = (a[k] + b[k]) as T[keyof T];
  return out;
}
