/**
 * A table's key schema and stream setting, defined once: a stack deploys it and the local
 * bootstrap creates it from the same values, so both runtimes share one key schema and one
 * stream setting (the example's table: examples/workflows/src/table.ts).
 */
import type { CreateTableCommandInput } from "@aws-sdk/client-dynamodb";
import { type KeyAttribute, type KeySchema, keyAttributes } from "./key-schema.ts";

export const StreamViewType = {
  NEW_AND_OLD_IMAGES: "NEW_AND_OLD_IMAGES",
} as const;

/** A global secondary index of a table definition (an `attributes` migration may feed one). */
export interface GlobalIndexDefinition extends KeySchema {
  name: string;
  /** What the index copies besides the keys: every attribute, none, or the listed ones. */
  projection: { type: "ALL" | "KEYS_ONLY" } | { type: "INCLUDE"; attributes: readonly string[] };
}

/** A table's definition; it is a KeySchema (partition key, optional sort key; S, N or B). */
export interface TableDefinition extends KeySchema {
  /** Logical name; physical names are chosen per stage/test. */
  logicalName: string;
  /** Dual-write needs both images: derive(old) to know what to delete. */
  streamViewType: (typeof StreamViewType)[keyof typeof StreamViewType];
  /** Global secondary indexes created with the table. */
  globalIndexes?: readonly GlobalIndexDefinition[];
}

/** Every attribute the table's and its indexes' keys use, once each (CreateTable's AttributeDefinitions). */
export function definedAttributes(definition: TableDefinition): KeyAttribute[] {
  const all = [...keyAttributes(definition), ...(definition.globalIndexes ?? []).flatMap((index) => keyAttributes(index))];
  return [...new Map(all.map((a) => [a.name, a])).values()];
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
    AttributeDefinitions: definedAttributes(definition).map((a) => ({ AttributeName: a.name, AttributeType: a.type })),
    KeySchema: keySchemaElements(definition),
    ...(definition.globalIndexes?.length
      ? {
          GlobalSecondaryIndexes: definition.globalIndexes.map((index) => ({
            IndexName: index.name,
            KeySchema: keySchemaElements(index),
            Projection:
              index.projection.type === "INCLUDE"
                ? { ProjectionType: "INCLUDE", NonKeyAttributes: [...index.projection.attributes] }
                : { ProjectionType: index.projection.type },
          })),
        }
      : {}),
    ...(options.stream ? { StreamSpecification: { StreamEnabled: true, StreamViewType: definition.streamViewType } } : {}),
  };
}

function keySchemaElements(keys: KeySchema): { AttributeName: string; KeyType: "HASH" | "RANGE" }[] {
  return keyAttributes(keys).map((a, i) => ({ AttributeName: a.name, KeyType: i === 0 ? "HASH" : "RANGE" }));
}
