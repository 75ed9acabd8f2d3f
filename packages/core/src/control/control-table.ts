/**
 * The control table holds ferry's own records per migration: state, heartbeats, stream
 * checkpoints, dead letters (key layout: control/keys.ts). It is a separate table (default `<table>.ferry`, no stream) so
 * that ferry's bookkeeping never feeds back into the data table's stream or scans.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { CreateTableCommand, ResourceInUseException } from "@aws-sdk/client-dynamodb";
import { paginateQuery } from "@aws-sdk/lib-dynamodb";
import { type ControlLocation, migrationPk } from "./keys.ts";
import { describeTable } from "../dynamo/table.ts";
import { sleep } from "../util/backoff.ts";

/** Default control table for a data table; `--control-table` / FERRY_CONTROL_TABLE override it. */
export function defaultControlTableName(dataTable: string, env: NodeJS.ProcessEnv = process.env): string {
  return env.FERRY_CONTROL_TABLE ?? `${dataTable}.ferry`;
}

/** Every control record of a migration whose SK starts with `prefix`, in SK order (consistent reads, all pages). */
export async function* controlRecords(location: ControlLocation, prefix: string): AsyncGenerator<Record<string, unknown>> {
  const pages = paginateQuery(
    { client: location.doc },
    {
      TableName: location.controlTable,
      KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
      ExpressionAttributeValues: { ":pk": migrationPk(location.migrationId), ":prefix": prefix },
      ConsistentRead: true,
    },
  );
  for await (const page of pages) yield* page.Items ?? [];
}

/** Creates the control table (PK/SK strings, on-demand, no stream) if it is missing. */
export async function ensureControlTable(client: DynamoDBClient, tableName: string): Promise<void> {
  if (!(await describeTable(client, tableName))) {
    try {
      await client.send(
        new CreateTableCommand({
          TableName: tableName,
          BillingMode: "PAY_PER_REQUEST",
          AttributeDefinitions: [
            // ferry's own table, keyed PK/SK (control/keys.ts); data tables' keys come from their KeySchema.
            { AttributeName: "PK", AttributeType: "S" },
            { AttributeName: "SK", AttributeType: "S" },
          ],
          KeySchema: [
            { AttributeName: "PK", KeyType: "HASH" },
            { AttributeName: "SK", KeyType: "RANGE" },
          ],
        }),
      );
    } catch (err) {
      if (!(err instanceof ResourceInUseException)) throw err;
    }
  }
  for (let i = 0; i < 300; i++) {
    if ((await describeTable(client, tableName))?.TableStatus === "ACTIVE") return;
    await sleep(100);
  }
}
