/**
 * DynamoDB JSON for backups: items as AttributeValue maps (numbers stay exact strings, sets
 * stay sets), with binary values as base64 so a line is plain JSON. The same shape AWS's
 * table export writes (`{"Item": {...}}`), read back exactly by `decodeItem`.
 */
import type { AttributeValue } from "@aws-sdk/client-dynamodb";

type Json = Record<string, unknown>;

export function encodeValue(value: AttributeValue): Json {
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString("base64") };
  if (value.BS !== undefined) return { BS: value.BS.map((b) => Buffer.from(b).toString("base64")) };
  if (value.L !== undefined) return { L: value.L.map(encodeValue) };
  if (value.M !== undefined) return { M: encodeItem(value.M) };
  return value as unknown as Json;
}

export function encodeItem(item: Record<string, AttributeValue>): Record<string, Json> {
  return Object.fromEntries(Object.entries(item).map(([k, v]) => [k, encodeValue(v)]));
}

export function decodeValue(value: Json): AttributeValue {
  if (typeof value.B === "string") return { B: Buffer.from(value.B, "base64") };
  if (Array.isArray(value.BS)) return { BS: (value.BS as string[]).map((b) => Buffer.from(b, "base64")) };
  if (Array.isArray(value.L)) return { L: (value.L as Json[]).map(decodeValue) };
  if (value.M && typeof value.M === "object") return { M: decodeItem(value.M as Record<string, Json>) };
  return value as unknown as AttributeValue;
}

export function decodeItem(item: Record<string, Json>): Record<string, AttributeValue> {
  return Object.fromEntries(Object.entries(item).map(([k, v]) => [k, decodeValue(v)]));
}
