// Stream-enabled tables made when the run starts and handed out one per test (never twice).
//
// Why: on every write to a table with a stream, DynamoDB Local 1.25.1 looks up the stream's
// shard with `SELECT MIN(SequenceNumber) FROM us WHERE ShardID = ?` (SQLiteDBAccessJob
// .getStreamDescription); `us`, the engine's one table of stream records, has no index on
// ShardID, so the query reads every stream record of every table written before the shard's
// first record, deleted tables' records included (they stay for 24 hours). A table created
// late in a run pays for the whole run on each write: 1,000 writes took 10.3 s of the engine's
// CPU on a table created after 20,000 stream records, 0.8 s on one that had its first record
// before them (measured on 2 cores). A pooled table gets its first stream record (a marker item
// put, then deleted) as the run starts, so its writes stay cheap however late its test runs.
// A reader from TRIM_HORIZON sees those two records: an INSERT and a REMOVE of the marker key.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type CreateTableCommandInput, CreateTableCommand, DeleteItemCommand, type DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { createTableInput } from "@ferry/core";
import { WORKFLOWS_TABLE } from "@ferry/example-workflows";
import type { TableKeys } from "./any-table.ts";

type TableInput = Omit<CreateTableCommandInput, "TableName">;

/** The CreateTable request of a test table of any key schema (test/support/any-table.ts), stream on or off. */
export function anyTableInput(keys: TableKeys, stream: boolean, indexes: { name: string; keys: TableKeys }[] = []): TableInput {
  const keyAttributes = (k: TableKeys) => [k.partitionKey, ...(k.sortKey ? [k.sortKey] : [])];
  const attributes = [...new Map([keys, ...indexes.map((i) => i.keys)].flatMap(keyAttributes).map((a) => [a.name, a])).values()];
  const keySchema = (k: TableKeys) => [
    { AttributeName: k.partitionKey.name, KeyType: "HASH" as const },
    ...(k.sortKey ? [{ AttributeName: k.sortKey.name, KeyType: "RANGE" as const }] : []),
  ];
  return {
    AttributeDefinitions: attributes.map((a) => ({ AttributeName: a.name, AttributeType: a.type })),
    KeySchema: keySchema(keys),
    ...(indexes.length
      ? { GlobalSecondaryIndexes: indexes.map((i) => ({ IndexName: i.name, KeySchema: keySchema(i.keys), Projection: { ProjectionType: "ALL" as const } })) }
      : {}),
    BillingMode: "PAY_PER_REQUEST",
    ...(stream ? { StreamSpecification: { StreamEnabled: true, StreamViewType: "NEW_AND_OLD_IMAGES" } } : {}),
  };
}

const S = "S" as const;
const N = "N" as const;
const BY_STATUS = { name: "byStatus", keys: { partitionKey: { name: "gsi1pk", type: S }, sortKey: { name: "gsi1sk", type: N } } };

/** The stream-enabled schemas the tests create, with how many tables of each a run may take. */
const POOLS: { name: string; input: TableInput; size: number }[] = [
  { name: "example", input: { ...createTableInput(WORKFLOWS_TABLE, "pool") }, size: 80 },
  { name: "pk-sk", input: anyTableInput({ partitionKey: { name: "pk", type: S }, sortKey: { name: "sk", type: S } }, true), size: 16 },
  { name: "id-sk", input: anyTableInput({ partitionKey: { name: "id", type: S }, sortKey: { name: "sk", type: S } }, true), size: 12 },
  { name: "device-ts", input: anyTableInput({ partitionKey: { name: "deviceId", type: S }, sortKey: { name: "ts", type: N } }, true), size: 12 },
  { name: "id-n", input: anyTableInput({ partitionKey: { name: "id", type: N } }, true), size: 6 },
  { name: "id-n-by-status", input: anyTableInput({ partitionKey: { name: "id", type: N } }, true, [BY_STATUS]), size: 16 },
];

/** Equal for two CreateTable requests that make the same table (its name aside). */
function signature(input: TableInput | CreateTableCommandInput): string {
  const { TableName: _, ...rest } = input as CreateTableCommandInput;
  const sorted = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(sorted)
      : value && typeof value === "object"
        ? Object.fromEntries(
            Object.entries(value)
              .sort(([a], [b]) => (a < b ? -1 : 1))
              .map(([k, v]) => [k, sorted(v)]),
          )
        : value;
  const attributes = [...(rest.AttributeDefinitions ?? [])].sort((a, b) => ((a.AttributeName ?? "") < (b.AttributeName ?? "") ? -1 : 1));
  return JSON.stringify(sorted({ ...rest, AttributeDefinitions: attributes }));
}

/** What global-setup provides: the claim folder and the table names of each pooled schema. */
export interface StreamPool {
  dir: string;
  tables: Record<string, string[]>;
}

/** The marker's key: every key attribute set to a value of its type that no test writes. */
function markerKey(input: TableInput) {
  const types = new Map((input.AttributeDefinitions ?? []).map((a) => [a.AttributeName, a.AttributeType]));
  return Object.fromEntries(
    (input.KeySchema ?? []).map((k) => {
      const type = types.get(k.AttributeName);
      return [k.AttributeName as string, type === "S" ? { S: "ferry-test-pool#marker" } : type === "N" ? { N: "-987654321" } : { B: new Uint8Array([0]) }];
    }),
  );
}

/** Creates every pool's tables, each with its marker's two stream records (global-setup). */
export async function fillStreamPool(client: DynamoDBClient, dir: string): Promise<StreamPool> {
  mkdirSync(dir, { recursive: true });
  const tables: Record<string, string[]> = {};
  for (const { name: pool, input, size } of POOLS) {
    const names = Array.from({ length: size }, (_, i) => `pool-${pool}-${process.pid}-${i}`);
    // A few at a time: DynamoDB Local creates tables one by one anyway.
    for (let i = 0; i < names.length; i += 6) {
      await Promise.all(
        names.slice(i, i + 6).map(async (name) => {
          await client.send(new CreateTableCommand({ ...input, TableName: name }));
          const Key = markerKey(input);
          await client.send(new PutItemCommand({ TableName: name, Item: Key }));
          await client.send(new DeleteItemCommand({ TableName: name, Key }));
        }),
      );
    }
    tables[signature(input)] = names;
  }
  return { dir, tables };
}

/**
 * A pooled table made by this CreateTable request (its name aside) that no other test has had
 * (an atomic mkdir claims it); undefined when no pool has the schema or the pool is spent.
 */
export function claimPooledTable(pool: StreamPool | undefined, input: TableInput | CreateTableCommandInput): string | undefined {
  if (!pool) return undefined;
  for (const name of pool.tables[signature(input)] ?? []) {
    try {
      mkdirSync(join(pool.dir, name));
      return name;
    } catch {}
  }
  return undefined;
}
