// Checks the invariant directly: stamped records == union of derive(source items).
import { type DynamoClients, type Migration, deriveRecords, ownerOf, sameRecord } from "@ferry/core";
import { isSourceItem } from "@ferry/core/backfill/page";
import { scanAll } from "./dynamo.ts";

export interface InvariantDiff {
  missing: string[];
  orphans: string[];
  different: string[];
  expected: number;
}

export async function invariantDiff(clients: DynamoClients, table: string, migration: Migration): Promise<InvariantDiff> {
  const items = await scanAll(clients, table);
  const expected = new Map<string, Record<string, unknown>>();
  for (const item of items) {
    if (!isSourceItem(migration, item)) continue;
    for (const r of deriveRecords(migration, item)) expected.set(`${r.PK}|${r.SK}`, r);
  }
  const actual = new Map(items.filter((i) => ownerOf(i, migration.id)).map((i) => [`${i.PK}|${i.SK}`, i]));
  const diff: InvariantDiff = { missing: [], orphans: [], different: [], expected: expected.size };
  for (const [k, r] of expected) {
    const a = actual.get(k);
    if (!a) diff.missing.push(k);
    else if (!sameRecord(a, r)) diff.different.push(k);
  }
  for (const k of actual.keys()) if (!expected.has(k)) diff.orphans.push(k);
  return diff;
}
