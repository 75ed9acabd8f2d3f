/** Creates a table from its shared definition when it does not exist yet. */
import {
  CreateTableCommand,
  UpdateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  type TableDescription,
} from "@aws-sdk/client-dynamodb";
import { isMissingTable } from "./missing-table.ts";
import { FerryError } from "../errors.ts";
import { sleep } from "../util/backoff.ts";
import { type TableDefinition, createTableInput } from "./table-definition.ts";

export class TableNotReadyError extends FerryError {
  constructor(
    readonly tableName: string,
    readonly waitedMs: number,
  ) {
    super(`Table ${tableName} did not become ACTIVE within ${waitedMs} ms; check it with DescribeTable and retry.`);
  }
}

export interface EnsureTableResult {
  created: boolean;
  description: TableDescription;
}

/** Describes a table, or returns undefined when it does not exist. */
export async function describeTable(client: DynamoDBClient, tableName: string): Promise<TableDescription | undefined> {
  try {
    const out = await client.send(new DescribeTableCommand({ TableName: tableName }));
    return out.Table;
  } catch (err) {
    if (isMissingTable(err)) return undefined;
    throw err;
  }
}

/**
 * Creates `tableName` from `definition` unless it exists, then waits until it is ACTIVE.
 * `stream: false` creates it without its stream: DynamoDB Local slows down with every stream
 * record it keeps, so seeding goes faster first and enableStream follows.
 */
export async function ensureTable(
  client: DynamoDBClient,
  definition: TableDefinition,
  tableName: string,
  options: { timeoutMs?: number; stream?: boolean } = {},
): Promise<EnsureTableResult> {
  let created = false;
  if (!(await describeTable(client, tableName))) {
    try {
      await client.send(new CreateTableCommand(createTableInput(definition, tableName, { stream: options.stream ?? true })));
      created = true;
    } catch (err) {
      if (!(err instanceof ResourceInUseException)) throw err;
    }
  }
  const started = Date.now();
  for (;;) {
    const description = await describeTable(client, tableName);
    if (description?.TableStatus === "ACTIVE") return { created, description };
    if (Date.now() - started > (options.timeoutMs ?? 60_000)) throw new TableNotReadyError(tableName, options.timeoutMs ?? 60_000);
    await sleep(200);
  }
}

/** Turns on the definition's stream (view type included) of an existing table and waits until it is ACTIVE. */
export async function enableStream(client: DynamoDBClient, definition: TableDefinition, tableName: string): Promise<TableDescription> {
  await client.send(new UpdateTableCommand({ TableName: tableName, StreamSpecification: { StreamEnabled: true, StreamViewType: definition.streamViewType } }));
  return (await ensureTable(client, definition, tableName)).description;
}
