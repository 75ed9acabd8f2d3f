/** A small seeded PRNG (mulberry32): the same seed gives the same data on every machine. */
export type Random = () => number;

export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomInt(random: Random, maxExclusive: number): number {
  return Math.floor(random() * maxExclusive);
}

export function pick<T>(random: Random, values: readonly T[]): T {
  const value = values[randomInt(random, values.length)];
  if (value === undefined) throw new RangeError("pick from an empty list");
  return value;
}

/** A deterministic id of `length` lowercase hex characters. */
export function randomHex(random: Random, length: number): string {
  let out = "";
  while (out.length < length) out += randomInt(random, 16).toString(16);
  return out;
}

/** Fisher-Yates shuffle of 0..n-1. */
export function permutation(random: Random, n: number): number[] {
  const out = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = randomInt(random, i + 1);
    [out[i], out[j]] = [out[j] as number, out[i] as number];
  }
  return out;
}
