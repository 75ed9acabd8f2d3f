/**
 * The dual-write Lambda for the data table's stream: the batch is planned and written as a
 * whole (core), then Powertools' BatchProcessor reports each record's outcome in order,
 * returning failures by SequenceNumber. The work is packages/core/src/dualwrite/dual-write.ts;
 * the local mapping uses the same factory.
 */
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import { Logger } from "@aws-lambda-powertools/logger";
import { createDynamoClients, defaultControlTableName } from "@ferry/core";
import { loadMigrationFrom } from "@ferry/core/definition/load";
import { migrationOnTable } from "@ferry/core/definition/table-keys";
import { type DualWriteDeps, createDualWriter } from "@ferry/core/dualwrite/dual-write";
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
// Static, so esbuild bundles every migration into the deployed function (see scripts/migration-registry.ts).
import { MIGRATIONS } from "../../../migrations/index.ts";

export type DualWriteHandler = (event: DynamoDBStreamEvent, context?: Context) => Promise<DynamoDBBatchResponse>;

/** The handler for one migration; `deps.logger` defaults to a Powertools Logger (level from POWERTOOLS_LOG_LEVEL). */
export function createDualWriteHandler(deps: DualWriteDeps): DualWriteHandler {
  const logger = new Logger({ serviceName: "ferry-dual-write", persistentKeys: { migrationId: deps.migration.id } });
  const writer = createDualWriter({ ...deps, logger: deps.logger ?? logger });
  return async (event, context) => {
    if (context) logger.addContext(context);
    const batch = writer.startBatch(event.Records);
    // In order, never in parallel; a batch where every record failed is reported, not thrown, so it is retried from its first record.
    const options = { processInParallel: false, throwOnFullBatchFailure: false, ...(context ? { context } : {}) };
    const response = await processPartialResponse(
      event,
      (record: DynamoDBRecord) => batch.handle(record),
      new BatchProcessor(EventType.DynamoDBStreams),
      options,
    );
    await batch.finish();
    return response;
  };
}

let lambdaHandler: Promise<DualWriteHandler> | undefined;

async function fromEnvironment(env = process.env): Promise<DualWriteHandler> {
  const [migrationRef, tableName] = [env.FERRY_MIGRATION, env.FERRY_TABLE];
  if (!migrationRef || !tableName) throw new Error("FERRY_MIGRATION and FERRY_TABLE must be set on the dual-write function; the stack sets them.");
  const doc = createDynamoClients({}).doc;
  // The table's key schema (DescribeTable, once per container), checked against the migration's.
  const migration = await migrationOnTable(doc, await loadMigrationFrom(migrationRef, MIGRATIONS, env), tableName);
  const controlTable = defaultControlTableName(tableName, env);
  return createDualWriteHandler({ migration, doc, tableName, controlTable });
}

/** The Lambda entry point: FERRY_MIGRATION, FERRY_TABLE, FERRY_CONTROL_TABLE (default `<table>.ferry`), endpoint env as createDynamoClients. */
export const handler: DualWriteHandler = async (event, context) => {
  // Built once per container; a failed build is not cached, so the next invocation tries again.
  lambdaHandler ??= fromEnvironment().catch((err) => {
    lambdaHandler = undefined;
    throw err;
  });
  return (await lambdaHandler)(event, context);
};
