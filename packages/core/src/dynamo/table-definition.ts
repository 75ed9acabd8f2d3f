/**
 * A table's key schema and stream setting, defined once: a stack deploys it and the local
 * bootstrap creates it from the same values, so both runtimes share one key schema and one
 * stream setting (the example's table: examples/workflows/src/table.ts).
 */
import type { CreateTableCommandInput } from "@aws-sdk/client-dynamodb";

export const StreamViewType = {
  NEW_AND_OLD_IMAGES: "NEW_AND_OLD_IMAGES",
} as const;

export interface TableDefinition {
  /** Logical name; physical names are chosen per stage/test. */
  logicalName: string;
  partitionKey: { name: string; type: "S" };
  sortKey: { name: string; type: "S" };
  /** Dual-write needs both images: derive(old) to know what to delete. */
  streamViewType: (typeof StreamViewType)[keyof typeof StreamViewType];
}

/** How a table is created: the stream can be left off (turned on later with enableStream). */
export interface CreateTableOptions {
  stream: boolean;
}

/** The CreateTable request for a definition; on-demand billing, stream enabled unless `stream: false`. */
export function createTableInput(definition: TableDefinition, tableName: string, options: CreateTableOptions = { stream: true }): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [
      { AttributeName: definition.partitionKey.name, AttributeType: definition.partitionKey.type },
      { AttributeName: definition.sortKey.name, AttributeType: definition.sortKey.type },
    ],
    KeySchema: [
      { AttributeName: definition.partitionKey.name, KeyType: "HASH" },
      { AttributeName: definition.sortKey.name, KeyType: "RANGE" },
    ],
    ...(options.stream ? { StreamSpecification: { StreamEnabled: true, StreamViewType: definition.streamViewType } } : {}),
  };
}
