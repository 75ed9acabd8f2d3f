/**
 * `@ferry/core`: the public API of the ferry engine, for migration authors and integrators.
 *
 * - A migration file needs only the first section: `defineMigration` and its types (and zod).
 * - An integrator runs the lifecycle (`lifecycleContext` + `designStep` ... `removeStep`),
 *   the dual-write, the backfill and verify from here, deploys with the stacks, and serves its
 *   API's versions with the release and API helpers.
 *
 * Nothing here knows a particular table or model: the example service (the Workflows table)
 * is the separate package `@ferry/example-workflows`, which uses only these exports. The CLI,
 * the Lambda handlers and the stacks may also import deeper modules (`@ferry/core/<folder>/<file>`).
 */

// ---- Defining a migration (everything a migration file imports) ----
export {
  type MigrationSpec,
  type Migration,
  type MigrationSource,
  type DerivedRecord,
  type SourceItem,
  type KeyFields,
  MIGRATION_ID_PATTERN,
  InvalidMigrationError,
  MissingKeySchemaError,
  defineMigration,
  isSourceKey,
  keysOf,
} from "./definition/define-migration.ts";
// ---- Key schemas: the table's keys, threaded through everything ----
export {
  type KeyType,
  type KeyAttribute,
  type KeySchema,
  type KeyValue,
  type ItemKey,
  KeySchemaMismatchError,
  UnreadableKeySchemaError,
  keyAttributes,
  keyNames,
  keySchemaOf,
  keySchemaText,
  readKeySchema,
  sameKeySchema,
  forgetKeySchemas,
} from "./dynamo/key-schema.ts";
export { withTableKeys, migrationOnTable, targetTableName } from "./definition/table-keys.ts";
export { matchesSource, sourceKeyFilter } from "./definition/source.ts";
export { type MigrationOptions, DEFAULT_MIGRATION_OPTIONS, MigrationOptionsSchema } from "./definition/options.ts";
export {
  OWNER_ATTRIBUTE,
  type OwnerStamp,
  SourceSchemaError,
  SourceMatchError,
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
  type MigrationRegistry,
  defaultMigrationsDir,
  listMigrationIds,
  resolveMigrationFile,
  loadMigration,
  loadMigrationFile,
  loadMigrationFrom,
  loadAllMigrations,
  loadEachMigration,
  misnamedMigrationFiles,
  type LoadedFile,
  MigrationNotFoundError,
  AmbiguousMigrationError,
  MigrationLoadError,
} from "./definition/load.ts";

// ---- Errors: every ferry error is a FerryError; UsageError exits 2 ----
export { FerryError, UsageError } from "./errors.ts";

// ---- Connecting to DynamoDB ----
export {
  type ConnectionOptions,
  DEFAULT_REGION,
  InvalidEndpointError,
  resolveDynamoEndpoint,
  resolveRegion,
  isLocalEndpoint,
  validateEndpoint,
} from "./aws/endpoint.ts";
export { type DynamoClients, type DynamoClientOptions, createDynamoClients } from "./aws/dynamodb.ts";

// ---- Tables and DynamoDB helpers ----
export {
  type TableDefinition,
  type CreateTableOptions,
  type GlobalIndexDefinition,
  StreamViewType,
  createTableInput,
  definedAttributes,
} from "./dynamo/table-definition.ts";
export { ensureTable, enableStream, describeTable, TableNotReadyError } from "./dynamo/table.ts";
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
export { type BatchGetOptions, type ReadStats, BATCH_GET_MAX, UnprocessedKeysError, batchGetItems, batchGetInOrder } from "./dynamo/batch-get.ts";
export { MAX_ITEM_BYTES, MAX_PARTITION_KEY_BYTES, MAX_SORT_KEY_BYTES, itemSize, valueSize, readUnits, writeUnits } from "./dynamo/item-size.ts";
export { type BackoffOptions, DEFAULT_BACKOFF, backoffDelay, sleep } from "./util/backoff.ts";
export { type Random, seededRandom, randomInt, pick, randomHex, permutation } from "./util/random.ts";

// ---- The control table (ferry's own records, beside the data table) ----
export { defaultControlTableName, ensureControlTable } from "./control/control-table.ts";
export { type ControlLocation, migrationPk, ControlSk } from "./control/keys.ts";

// ---- Step 1, design: scaffold, check, plan ----
export { type ScaffoldResult, InvalidMigrationNameError, MigrationExistsError, kebabCase, nextMigrationNumber, scaffoldMigration } from "./design/scaffold.ts";
export { type CheckReport, CheckFailedError, checkMigration } from "./design/check.ts";
export { type Plan, type PlanOptions, DEFAULT_PLAN_OPTIONS, planMigration } from "./design/plan.ts";
export { type TableSample, type SampleOptions, DEFAULT_SAMPLE_SIZE, TableNotFoundError, sampleTable } from "./design/sample.ts";
export { estimateItemWriteUnits, estimateScanReadUnits } from "./design/capacity.ts";
export { ON_DEMAND_USD_PER_MILLION_READ_UNITS, ON_DEMAND_USD_PER_MILLION_WRITE_UNITS, PRICES_AS_OF, onDemandCost } from "./design/pricing.ts";

// ---- The lifecycle: every step through the orchestrator (guards, history, events) ----
export {
  type LifecycleContextInput,
  lifecycleContext,
  designStep,
  addStep,
  convertStep,
  completeConvert,
  moveStep,
  removeStep,
  removePlan,
  rollbackStep,
} from "./lifecycle/lifecycle.ts";
export { type LifecycleContext, type StepName, STEPS } from "./lifecycle/phase.ts";
export { type StepEvent, type StepListener, jsonLineListener } from "./lifecycle/events.ts";
export {
  StepOrderError,
  MigrationRolledBackError,
  MigrationRemovedError,
  PlanInvalidError,
  DualWriteNotLiveError,
  ConvertIncompleteError,
  VerifyNotCleanError,
  NotFullyMovedError,
  SoakNotOverError,
  V1StillUsedError,
  DualWriteStillRunningError,
  ForceWithoutReasonError,
} from "./lifecycle/guards.ts";

// ---- Step 2, add: the dual-write ----
export { type DualWriteDeps, type DualWriter, createDualWriter } from "./dualwrite/dual-write.ts";
export { type StreamSettings, streamSettings } from "./dualwrite/stream-settings.ts";
export { type Heartbeat, type DualWriteLag, readHeartbeat, dualWriteLag } from "./dualwrite/heartbeat.ts";

// ---- Step 3, convert: the backfill ----
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

// ---- Verify: the new model is exactly derive() of the current source items ----
export { type VerifyOptions, type VerifyReport, DEFAULT_VERIFY_OPTIONS, VerifyFailedError } from "./verify/verifier.ts";
export { verifyMigration } from "./verify/verify-migration.ts";

// ---- Step 4, move: the release of each API version, and the API's shared parts ----
export { type ApiVersion, type ReleaseConfig, type VersionReason, INITIAL_RELEASE, tenantBucket, versionFor } from "./release/config.ts";
export { type ReleaseCacheOptions, DEFAULT_RELEASE_CACHE_OPTIONS, ReleaseCache } from "./release/cache.ts";
export {
  type Disagreement,
  type ShadowComparison,
  type ShadowOutcome,
  type ShadowRecheckOptions,
  type ShadowStats,
  type ShadowVerdict,
  DEFAULT_SHADOW_RECHECK,
  InvalidShadowRecheckOptionsError,
  SHADOW_RECHECK_LIMITS,
  compareIds,
  describeShadowAgreement,
  readShadowStats,
  recordShadow,
  runShadowComparison,
  shadowRecheckOptions,
} from "./release/shadow.ts";
export {
  ApiError,
  type ApiErrorStatus,
  BadRequestError,
  InvalidNextTokenError,
  UnauthorizedError,
  UnknownVersionError,
  UsageUnrecordedError,
  VersionGoneError,
} from "./api/errors.ts";
export {
  type TokenScope,
  type ResumeKey,
  NEXT_TOKEN_MAX_AGE_MS,
  encodeNextToken,
  verifyNextToken,
  decodeNextToken,
  checkTokenScope,
} from "./api/next-token.ts";

// ---- The versioning library: v1/v2 routes following a release, on Hono or a plain Lambda handler ----
export { Background } from "./versioning/background.ts";
export { type VersionedRequest, type VersionedResult, type PathMatch, Answer, answer, matchPath } from "./versioning/request.ts";
export { type TenantResolver, DEFAULT_TENANT_CLAIM, MAX_TENANT_LENGTH, claimTenant, tenantFromClaims, tenantProblem } from "./versioning/tenant.ts";
export { type ChoiceReason, type ChosenVersion, type ExplicitVersion, chooseVersion, parseAcceptVersion, parseVersionSegment } from "./versioning/choose.ts";
export { refuseRetired, successorPath } from "./versioning/retirement.ts";
export { versionHeaders } from "./versioning/headers.ts";
export { countRequest } from "./versioning/usage-gate.ts";
export { type ShadowSpec, defaultIds, wantsShadow } from "./versioning/shadow-schedule.ts";
export { PageTokens, UNBOUND_QUERY_PARAMETERS, tokenQuery } from "./versioning/page-token.ts";
export {
  type RouteMatch,
  type VersionHandler,
  type VersionedCall,
  type VersionedRoute,
  type VersioningOptions,
  Versioning,
} from "./versioning/versioning.ts";
export { type HonoRoute, type VersionedRoutes, DuplicateVersionedRouteError, honoRequest, versionedRoutes } from "./versioning/hono.ts";
export {
  type LambdaHttpEvent,
  type LambdaRoute,
  type LambdaRouteOptions,
  DEFAULT_LAMBDA_ROUTE_OPTIONS,
  lambdaRequest,
  versionedLambda,
  versionedLambdaRoutes,
} from "./versioning/lambda.ts";

// ---- Running locally: DynamoDB Local and the local stream mapping ----
export {
  type DynamoDBLocal,
  type DynamoDBLocalOptions,
  DEFAULT_DYNAMODB_LOCAL_OPTIONS,
  DynamoDBLocalNotInstalledError,
  DynamoDBLocalStartError,
  startDynamoDBLocal,
  defaultInstallDir,
  freePort,
  PortInUseError,
  assertPortFree,
} from "./local/dynamodb-local.ts";
export { JavaMissingError, JavaTooOldError, checkJava, resolveJava } from "./local/java.ts";
export { type LocalDualWriteOptions, startLocalDualWrite } from "./local/dual-write.ts";
export type { StreamHandler } from "./streams/lambda-event.ts";
export { type KindStatus, describeKind, describeKindDetail, kindStatus } from "./kinds/describe.ts";
