// Test helpers: clients for the run's DynamoDB Local and a fresh table per test.
import { randomUUID } from "node:crypto";
import { DeleteTableCommand } from "@aws-sdk/client-dynamodb";
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { type DynamoClientOptions, type DynamoClients, createDynamoClients, createTableInput, ensureTable } from "@ferry/core";
import { WORKFLOWS_TABLE } from "@ferry/example-workflows";
import { inject } from "vitest";
import { claimPooledTable } from "./stream-pool.ts";

/** This worker's DynamoDB Local (test/support/global-setup.ts starts one per worker). */
export function endpoint(): string {
  const engines = inject("dynamoEndpoints");
  return engines[(Number(process.env.VITEST_POOL_ID ?? 1) - 1) % engines.length] as string;
}

export function testClients(config?: DynamoClientOptions["config"]): DynamoClients {
  return createDynamoClients({ endpoint: endpoint(), ...(config ? { config } : {}) });
}

export function uniqueTableName(prefix = "t"): string {
  return `${prefix}-${randomUUID().slice(0, 12)}`;
}

/**
 * A fresh example table (shared definition, stream on): one of the run's pooled tables
 * (test/support/stream-pool.ts: DynamoDB Local's stream writes stay cheap on a table made early),
 * whose stream holds a marker's INSERT and REMOVE; `pooled: false` makes a new table, with an
 * empty stream, for a test that counts every stream record from TRIM_HORIZON.
 */
export async function freshExampleTable(clients: DynamoClients, prefix = "wf", options: { pooled?: boolean } = {}): Promise<string> {
  if (options.pooled !== false && endpoint() === inject("dynamoEndpoints")[0]) {
    const pooled = claimPooledTable(inject("streamPool"), createTableInput(WORKFLOWS_TABLE, "any"));
    if (pooled) return pooled;
  }
  const name = uniqueTableName(prefix);
  await ensureTable(clients.raw, WORKFLOWS_TABLE, name);
  return name;
}

/**
 * The example table without its stream, for tests that never read it. Measured on
 * DynamoDB Local 1.25.1: every write to a stream-enabled table gets slower as the engine's
 * stream records accumulate (4,000 items: 2.2 s, then 8.8 s, then 21.8 s on later tables;
 * deleting tables does not help), and one engine serves the whole test run.
 */
export async function freshPlainTable(clients: DynamoClients, prefix = "wf"): Promise<string> {
  const name = uniqueTableName(prefix);
  await ensureTable(clients.raw, WORKFLOWS_TABLE, name, { stream: false });
  return name;
}

export async function dropTable(clients: DynamoClients, name: string): Promise<void> {
  await clients.raw.send(new DeleteTableCommand({ TableName: name })).catch(() => undefined);
}

/** Every item of a table, following LastEvaluatedKey to the end. */
export async function scanAll(clients: DynamoClients, tableName: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await clients.doc.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: start, ConsistentRead: true }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}
