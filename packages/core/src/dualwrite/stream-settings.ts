/**
 * The one definition of the dual-write event source mapping: the stack deploys the AWS
 * mapping with these values and the local mapping (local/event-source-mapping.ts) runs with
 * the very same object, so both deliver the same batches to the handler.
 */
import { type Migration, MissingKeySchemaError, type MigrationSource } from "../definition/define-migration.ts";
import type { KeySchema } from "../dynamo/key-schema.ts";

/** A Lambda event filter pattern (JSON object form of `FilterCriteria.Filters[].Pattern`). */
export type FilterPattern = { [field: string]: FilterPattern | FilterRule[] };
/** One rule of a pattern leaf: an exact value, or an operator object such as `{ prefix: "WF#" }`. */
export type FilterRule = string | number | boolean | null | Record<string, unknown>;

/** Settings of the DynamoDB stream event source mapping (CloudFormation property names, camelCase). */
export interface StreamSettings {
  /** Records per invocation (Lambda BatchSize; locally also the GetRecords Limit, at most 1,000). */
  batchSize: number;
  /** Split a batch in two and retry each half when the function throws. */
  bisectBatchOnFunctionError: boolean;
  /** Failed retries of a record before it is dead-lettered (-1: until it expires). */
  maximumRetryAttempts: number;
  /** Records older than this are dead-lettered instead of retried (-1: never). */
  maximumRecordAgeInSeconds: number;
  /** `ReportBatchItemFailures`: the handler returns the failed sequence numbers. */
  functionResponseTypes: readonly "ReportBatchItemFailures"[];
  startingPosition: "TRIM_HORIZON" | "LATEST";
  /** Lambda FilterCriteria: only records matching one of the patterns reach the handler. Absent: every record does (a source selected by `match` only). */
  filterCriteria?: { filters: { pattern: string }[] };
}

/**
 * The filter pattern selecting a migration's source items by key, under the table's key
 * names: `dynamodb.Keys.<sort key>.S` starts with `source.skPrefix` and/or
 * `dynamodb.Keys.<partition key>.S` with `source.pkPrefix` (fields of one pattern are ANDed).
 * It looks at Keys only, so INSERT, MODIFY and REMOVE records of source items all pass.
 * Lambda filters cannot express `source.skPattern` or `source.match`; records with the
 * prefixes that fail them still reach the handler, which re-checks (definition/source.ts).
 * Undefined when the source has no prefix: then every record reaches the handler.
 */
export function sourceFilterPattern(keys: KeySchema, source: MigrationSource): FilterPattern | undefined {
  const fields: Record<string, FilterPattern> = {};
  if (source.pkPrefix !== undefined) fields[keys.partitionKey.name] = { S: [{ prefix: source.pkPrefix }] };
  if (source.skPrefix !== undefined && keys.sortKey) fields[keys.sortKey.name] = { S: [{ prefix: source.skPrefix }] };
  return Object.keys(fields).length > 0 ? { dynamodb: { Keys: fields } } : undefined;
}

/**
 * The mapping settings of a migration, from its options (streamBatchSize, streamMaxRetries,
 * streamMaxRecordAgeSeconds) and its source's key prefixes under `keys` (default: the
 * migration's declared or bound keys).
 */
export function streamSettings(
  migration: Pick<Migration, "source" | "options"> & Partial<Pick<Migration, "id" | "keys">>,
  keys = migration.keys,
): StreamSettings {
  const needsKeys = migration.source.pkPrefix !== undefined || migration.source.skPrefix !== undefined;
  if (needsKeys && !keys) throw new MissingKeySchemaError(migration.id ?? "the migration");
  const pattern = keys ? sourceFilterPattern(keys, migration.source) : undefined;
  return {
    batchSize: migration.options.streamBatchSize,
    bisectBatchOnFunctionError: true,
    maximumRetryAttempts: migration.options.streamMaxRetries,
    maximumRecordAgeInSeconds: migration.options.streamMaxRecordAgeSeconds,
    functionResponseTypes: ["ReportBatchItemFailures"],
    startingPosition: "TRIM_HORIZON",
    ...(pattern ? { filterCriteria: { filters: [{ pattern: JSON.stringify(pattern) }] } } : {}),
  };
}
