/**
 * DynamoDB's own item-size arithmetic (the rules behind the 400 KB limit and capacity
 * units), applied to plain document values. Used by the generator, `check` and `plan`.
 */

/** DynamoDB's maximum item size in bytes. */
export const MAX_ITEM_BYTES = 400 * 1024;
/** Partition key value limit and sort key value limit, in bytes. */
export const MAX_PARTITION_KEY_BYTES = 2048;
export const MAX_SORT_KEY_BYTES = 1024;

const utf8 = (s: string) => Buffer.byteLength(s, "utf8");

function numberSize(n: number | bigint): number {
  // Up to 38 significant digits, ~1 byte per two digits plus one.
  const digits = String(n).replace(/^-/, "").replace(".", "").replace(/^0+/, "").replace(/e.*$/i, "");
  return Math.ceil(Math.max(1, digits.length) / 2) + 1;
}

/** Size in bytes of one attribute value as DynamoDB counts it. */
export function valueSize(value: unknown): number {
  if (value === null || value === undefined || typeof value === "boolean") return 1;
  if (typeof value === "string") return utf8(value);
  if (typeof value === "number" || typeof value === "bigint") return numberSize(value);
  if (value instanceof Uint8Array) return value.byteLength;
  if (value instanceof Set) {
    let total = 0;
    for (const member of value) total += valueSize(member);
    return total;
  }
  if (Array.isArray(value)) return 3 + value.reduce<number>((sum, v) => sum + 1 + valueSize(v), 0);
  if (typeof value === "object") {
    let total = 3;
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v === undefined) continue;
      total += 1 + utf8(k) + valueSize(v);
    }
    return total;
  }
  throw new TypeError(`unsupported attribute value type: ${typeof value}`);
}

/** Size in bytes of a whole item: attribute names plus values. */
export function itemSize(item: Record<string, unknown>): number {
  let total = 0;
  for (const [name, value] of Object.entries(item)) {
    if (value === undefined) continue;
    total += utf8(name) + valueSize(value);
  }
  return total;
}

/** Write capacity units for a standard write of an item this size (1 KB each, rounded up). */
export function writeUnits(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / 1024));
}

/** Read capacity units for a strongly consistent read of this many bytes (4 KB each). */
export function readUnits(bytes: number, consistent = true): number {
  const units = Math.max(1, Math.ceil(bytes / 4096));
  return consistent ? units : units / 2;
}
