/** ferry core: domain logic shared by the CLI, the Lambda handlers and the stacks. */
export { FerryError, UsageError } from "./errors.ts";
export { type ConnectionOptions, DEFAULT_REGION, resolveDynamoEndpoint, resolveRegion, isLocalEndpoint } from "./aws/endpoint.ts";
export { type DynamoClients, type DynamoClientOptions, createDynamoClients } from "./aws/dynamodb.ts";
export {
  type TableDefinition,
  StreamViewType,
  WORKFLOWS_TABLE,
  DEFAULT_TABLE_NAME,
  createTableInput,
} from "./dynamo/table-definition.ts";
export { ensureTable, enableStream, describeTable, TableNotReadyError } from "./dynamo/table.ts";
export {
  type DynamoDBLocal,
  type DynamoDBLocalOptions,
  DEFAULT_DYNAMODB_LOCAL_OPTIONS,
  DynamoDBLocalNotInstalledError,
  DynamoDBLocalStartError,
  startDynamoDBLocal,
  defaultInstallDir,
  freePort,
} from "./local/dynamodb-local.ts";
export { JavaMissingError, JavaTooOldError, checkJava, resolveJava } from "./local/java.ts";
export {
  type WriteRequest,
  type BatchWriteOptions,
  type BatchWriteStats,
  BATCH_WRITE_MAX,
  DEFAULT_BATCH_WRITE_OPTIONS,
  UnprocessedItemsError,
  batchPutAll,
  writeBatch,
} from "./dynamo/batch-write.ts";
export { MAX_ITEM_BYTES, MAX_PARTITION_KEY_BYTES, MAX_SORT_KEY_BYTES, itemSize, valueSize, readUnits, writeUnits } from "./dynamo/item-size.ts";
export {
  WorkflowItem,
  WorkflowContext,
  WorkflowTask,
  WorkflowStatus,
  WORKFLOW_SK_PREFIX,
  workflowSk,
  workflowIdOf,
} from "@ferry/example-workflows/model/workflow";
export {
  type SeedOptions,
  DEFAULT_SEED_OPTIONS,
  generateWorkflows,
  validateSeedOptions,
  tenantId,
  contextId,
} from "@ferry/example-workflows/seed/generator";
export { type SeedResult, InvalidSeedOptionsError, seedTable } from "@ferry/example-workflows/seed/seed-table";
export { type BackoffOptions, DEFAULT_BACKOFF, backoffDelay, sleep } from "./util/backoff.ts";
export { seededRandom } from "./util/random.ts";
export {
  type MigrationSpec,
  type Migration,
  type DerivedRecord,
  type ItemKey,
  type SourceItem,
  MIGRATION_ID_PATTERN,
  InvalidMigrationError,
  defineMigration,
  isSourceKey,
} from "./definition/define-migration.ts";
export { type MigrationOptions, DEFAULT_MIGRATION_OPTIONS, MigrationOptionsSchema } from "./definition/options.ts";
export {
  OWNER_ATTRIBUTE,
  type OwnerStamp,
  SourceSchemaError,
  DeriveError,
  InvalidDerivedRecordsError,
  deriveRecords,
  projectSource,
  ownerOf,
  sameRecord,
  keyOf,
  keyId,
  keyText,
} from "./definition/derive.ts";
export {
  defaultMigrationsDir,
  listMigrationIds,
  resolveMigrationFile,
  loadMigration,
  loadMigrationFile,
  loadAllMigrations,
  loadEachMigration,
  misnamedMigrationFiles,
  type LoadedFile,
  MigrationNotFoundError,
  AmbiguousMigrationError,
  MigrationLoadError,
} from "./definition/load.ts";
export { defaultControlTableName, migrationPk, ControlSk, ensureControlTable } from "./control/control-table.ts";
export { type ScaffoldResult, InvalidMigrationNameError, MigrationExistsError, kebabCase, nextMigrationNumber, scaffoldMigration } from "./design/scaffold.ts";
export { type CheckReport, CheckFailedError, checkMigration } from "./design/check.ts";
export { type Plan, type PlanOptions, DEFAULT_PLAN_OPTIONS, planMigration } from "./design/plan.ts";
export { estimateItemWriteUnits, estimateScanReadUnits } from "./design/capacity.ts";
export { ON_DEMAND_USD_PER_MILLION_READ_UNITS, ON_DEMAND_USD_PER_MILLION_WRITE_UNITS, PRICES_AS_OF, onDemandCost } from "./design/pricing.ts";
export { type BackfillSettings, DEFAULT_BACKFILL_SETTINGS } from "./backfill/settings.ts";
export { type PageCounters, convertPage, isSourceItem } from "./backfill/page.ts";
export { backfillDefinition, backfillDefinitionText, BACKFILL_ASL_PATH, BACKFILL_TASK_RESOURCES } from "./backfill/definition.ts";
export { type BackfillExecutionInput, createBackfillTasks } from "./backfill/tasks.ts";
export {
  type ConvertContext,
  type ConversionResult,
  type ConversionStatus,
  startConversion,
  resumeConversion,
  requestStop,
  changeRate,
  conversionStatus,
  BackfillUnfinishedError,
  NoBackfillError,
} from "./backfill/control.ts";
export { BackfillLockedError } from "./backfill/lock.ts";
