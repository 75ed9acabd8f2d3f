/**
 * A table's key schema and stream setting, defined once: a stack deploys it and the local
 * bootstrap creates it from the same values, so both runtimes share one key schema and one
 * stream setting (the example's table: examples/workflows/src/table.ts).
 */
import type { CreateTableCommandInput } from "@aws-sdk/client-dynamodb";
import { type KeySchema, keyAttributes } from "./key-schema.ts";

export const StreamViewType = {
  NEW_AND_OLD_IMAGES: "NEW_AND_OLD_IMAGES",
} as const;

/** A table's definition; it is a KeySchema (partition key, optional sort key; S, N or B). */
export interface TableDefinition extends KeySchema {
  /** Logical name; physical names are chosen per stage/test. */
  logicalName: string;
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
    AttributeDefinitions: keyAttributes(definition).map((a) => ({ AttributeName: a.name, AttributeType: a.type })),
    KeySchema: keyAttributes(definition).map((a, i) => ({ AttributeName: a.name, KeyType: i === 0 ? "HASH" : "RANGE" })),
    ...(options.stream ? { StreamSpecification: { StreamEnabled: true, StreamViewType: definition.streamViewType } } : {}),
  };
}
