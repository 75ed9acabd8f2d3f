/**
 * verify's index check for an attributes migration that names its `index`: while the scan
 * runs, the first index partition-key values derive gives are sampled with the items that
 * carry each; then one Query per sampled value must return exactly the items whose
 * derive(current item) puts them under that value, with the derived index key values. A GSI
 * is eventually consistent, so a mismatch is queried again (and the items re-read) a few
 * times before it counts.
 */
import { type DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { type Migration, keysOf } from "../../definition/define-migration.ts";
import { sameRecord } from "../../definition/derive.ts";
import { isSourceItem } from "../../definition/source.ts";
import { type ReadStats, batchGetItems } from "../../dynamo/batch-get.ts";
import { keyId, keyNames, keyOf, keyText } from "../../dynamo/key-schema.ts";
import { type BackoffOptions, sleep } from "../../util/backoff.ts";
import type { IndexCheck } from "../../verify/verifier.ts";
import { type OwnedAttributes, deriveAttributes } from "./derive.ts";
import { type IndexInfo, ownedIndexKeys } from "./gsi.ts";

/** Index partition-key values queried per verify. */
export const INDEX_SAMPLE_KEYS = 25;
/** A value carried by more items than this is dropped from the sample (its Query would read them all). */
export const INDEX_SAMPLE_MAX_ITEMS = 1_000;
/** Queries per sampled value before a mismatch counts (GSIs are eventually consistent). */
export const INDEX_CHECK_ATTEMPTS = 8;
export const INDEX_CHECK_RETRY_MS = 250;

/** The sampled index partition-key values and the item keys the scan found under each. */
export class IndexSample {
  readonly values = new Map<string, { value: unknown; keys: Map<string, Record<string, unknown>> }>();
  private readonly dropped = new Set<string>();

  constructor(
    private readonly migration: Migration,
    readonly index: IndexInfo,
  ) {}

  /** Notes a source item and what derive gives it. */
  add(item: Record<string, unknown>, desired: OwnedAttributes): void {
    const indexed = indexKeyValues(this.index, item, desired);
    if (!indexed) return;
    const id = JSON.stringify(valueId(indexed[0]));
    if (this.dropped.has(id)) return;
    let entry = this.values.get(id);
    if (!entry) {
      if (this.values.size >= INDEX_SAMPLE_KEYS) return;
      entry = { value: indexed[0], keys: new Map() };
      this.values.set(id, entry);
    }
    const keys = keysOf(this.migration);
    entry.keys.set(keyId(keys, item), keyOf(keys, item));
    if (entry.keys.size > INDEX_SAMPLE_MAX_ITEMS) {
      this.values.delete(id);
      this.dropped.add(id);
    }
  }
}

/** The index key values an item would carry (its own attribute where not owned), or undefined when it is not in the index. */
function indexKeyValues(index: IndexInfo, item: Record<string, unknown>, desired: OwnedAttributes): unknown[] | undefined {
  const values = index.keys.map((k) => (k.name in desired ? desired[k.name] : item[k.name]));
  return values.every((v) => v !== undefined && v !== null) ? values : undefined;
}

function valueId(value: unknown): unknown {
  return value instanceof Uint8Array ? `b64:${Buffer.from(value).toString("base64")}` : value;
}

/** Queries every sampled value; `index` undefined means the table has no such index (every value then fails). */
export async function checkIndex(
  doc: DynamoDBDocumentClient,
  tableName: string,
  migration: Migration,
  index: IndexInfo | undefined,
  sample: IndexSample | undefined,
  o: { backoff: BackoffOptions; examples: number },
  stats: ReadStats,
): Promise<IndexCheck> {
  const name = migration.index as string;
  if (!index || !sample) return { name, sampled: 0, mismatched: 1, queries: 0, examples: [`the table has no index ${name}`] };
  const check: IndexCheck = { name, sampled: sample.values.size, mismatched: 0, queries: 0, examples: [] };
  const keys = keysOf(migration);
  const pk = index.keys[0] as { name: string };
  for (const { value, keys: scanned } of sample.values.values()) {
    let problem: string | undefined;
    for (let attempt = 1; attempt <= INDEX_CHECK_ATTEMPTS; attempt++) {
      const answered = await queryAll(doc, tableName, index, pk.name, value, [...keyNames(keys), ...index.keys.map((k) => k.name)], stats);
      check.queries++;
      // What the table holds now, for every item either side names.
      const candidates = new Map([...scanned, ...answered.map((i) => [keyId(keys, i), keyOf(keys, i)] as const)]);
      const current = await batchGetItems(doc, tableName, keys, [...candidates.values()], { backoff: o.backoff, stats });
      const expected = new Map<string, unknown[]>();
      for (const [id, item] of current) {
        const derived = derivedIndexKeys(migration, index, item);
        if (derived && sameRecord({ v: valueId(derived[0]) }, { v: valueId(value) })) expected.set(id, derived);
      }
      problem = compare(index, keys, value, expected, answered);
      if (!problem) break;
      if (attempt < INDEX_CHECK_ATTEMPTS) await sleep(INDEX_CHECK_RETRY_MS);
    }
    if (problem) {
      check.mismatched++;
      if (check.examples.length < o.examples) check.examples.push(problem);
    }
  }
  return check;
}

function derivedIndexKeys(migration: Migration, index: IndexInfo, item: Record<string, unknown>): unknown[] | undefined {
  try {
    if (!isSourceItem(migration, item)) return undefined;
    return indexKeyValues(index, item, deriveAttributes(migration, item, { indexKeys: ownedIndexKeys(migration, index) }));
  } catch {
    // An invalid source item is verify's invalidSource; it belongs under no index key.
    return undefined;
  }
}

function compare(
  index: IndexInfo,
  keys: ReturnType<typeof keysOf>,
  value: unknown,
  expected: Map<string, unknown[]>,
  answered: Record<string, unknown>[],
): string | undefined {
  const at = `${index.name} ${index.keys[0]?.name}=${JSON.stringify(valueId(value))}`;
  const seen = new Set<string>();
  for (const item of answered) {
    const id = keyId(keys, item);
    seen.add(id);
    const want = expected.get(id);
    if (!want) return `${at}: returned ${keyText(keyOf(keys, item))}, which derive puts elsewhere or nowhere`;
    const got = index.keys.map((k) => item[k.name]);
    if (!sameRecord({ v: got.map(valueId) }, { v: want.map(valueId) }))
      return `${at}: ${keyText(keyOf(keys, item))} is indexed under ${JSON.stringify(got.map(valueId))}, derive gives ${JSON.stringify(want.map(valueId))}`;
  }
  for (const id of expected.keys()) if (!seen.has(id)) return `${at}: did not return ${id}, which derive puts under it`;
  return undefined;
}

async function queryAll(
  doc: DynamoDBDocumentClient,
  tableName: string,
  index: IndexInfo,
  pkName: string,
  value: unknown,
  attributes: string[],
  stats: ReadStats,
): Promise<Record<string, unknown>[]> {
  const names = Object.fromEntries([...new Set(attributes)].map((n, i) => [`#p${i}`, n]));
  const out: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new QueryCommand({
        TableName: tableName,
        IndexName: index.name,
        KeyConditionExpression: "#ipk = :ipk",
        ExpressionAttributeNames: { ...names, "#ipk": pkName },
        ExpressionAttributeValues: { ":ipk": value },
        ProjectionExpression: Object.keys(names).join(", "),
        ExclusiveStartKey: start,
        ReturnConsumedCapacity: "TOTAL",
      }),
    );
    stats.consumedReadUnits += page.ConsumedCapacity?.CapacityUnits ?? 0;
    out.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}
