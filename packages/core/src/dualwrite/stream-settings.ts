/**
 * The one definition of the dual-write event source mapping: the stack deploys the AWS
 * mapping with these values and the local mapping (local/event-source-mapping.ts) runs with
 * the very same object, so both deliver the same batches to the handler.
 */
import type { Migration } from "../definition/define-migration.ts";

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
  /** Lambda FilterCriteria: only records matching one of the patterns reach the handler. */
  filterCriteria: { filters: { pattern: string }[] };
}

/**
 * The filter pattern selecting a migration's source items by key: `dynamodb.Keys.SK.S` starts
 * with `source.skPrefix`. It looks at Keys only, so INSERT, MODIFY and REMOVE records of
 * source items all pass. Lambda filters cannot express `source.skPattern`; records whose
 * key has the prefix but not the pattern still reach the handler, which re-checks with
 * `isSourceKey`.
 */
export function sourceFilterPattern(skPrefix: string): FilterPattern {
  return { dynamodb: { Keys: { SK: { S: [{ prefix: skPrefix }] } } } };
}

/** The mapping settings of a migration, from its options (streamBatchSize, streamMaxRetries, streamMaxRecordAgeSeconds). */
export function streamSettings(migration: Pick<Migration, "source" | "options">): StreamSettings {
  return {
    batchSize: migration.options.streamBatchSize,
    bisectBatchOnFunctionError: true,
    maximumRetryAttempts: migration.options.streamMaxRetries,
    maximumRecordAgeInSeconds: migration.options.streamMaxRecordAgeSeconds,
    functionResponseTypes: ["ReportBatchItemFailures"],
    startingPosition: "TRIM_HORIZON",
    filterCriteria: { filters: [{ pattern: JSON.stringify(sourceFilterPattern(migration.source.skPrefix)) }] },
  };
}
