/**
 * `@ferry/example-workflows`: the seed-000 example service ferry migrates, kept apart from the
 * engine and built only on `@ferry/core`'s public exports. A multi-tenant Workflows table
 * (model, table definition, generator, seed, a live writer), its two reads (v1 on the old
 * model, v2 on the records of migrations 0001/0002) behind one Hono API, and the demo walk of
 * `ferry demo`. The CLI's seed, serve, token and demo commands, the API Lambda entry and the
 * Storage stack use it; nothing in the engine does.
 */
export { WORKFLOW_SK_PREFIX, WorkflowContext, WorkflowItem, WorkflowStatus, WorkflowTask, workflowIdOf, workflowSk } from "./model/workflow.ts";
export { BY_STATUS_INDEX, DEFAULT_BY_CONTEXT_TABLE_NAME, DEFAULT_TABLE_NAME, WORKFLOWS_BY_CONTEXT_TABLE, WORKFLOWS_TABLE } from "./table.ts";
export {
  type SeedOptions,
  DEFAULT_SEED_OPTIONS,
  MAX_ITEM_KB,
  MIN_ITEM_KB,
  contextId,
  generateWorkflows,
  tenantId,
  validateSeedOptions,
} from "./seed/generator.ts";
export { type SeedResult, InvalidSeedOptionsError, seedTable } from "./seed/seed-table.ts";
export { type LiveWriterOptions, type LiveWriterStats, DEFAULT_LIVE_WRITES_PER_SECOND, startLiveWriter } from "./seed/live-writer.ts";
export { type GeneratedCase, GENERATED_CASES, generatedCheckItems, workflowCheckItems } from "./check-cases.ts";
export { type V1Options, DEFAULT_V1_OPTIONS, createV1Reader } from "./reads/v1.ts";
export { type V2Options, DEFAULT_V2_OPTIONS, createV2Reader } from "./reads/v2.ts";
export { type ListByStatusRequest, type StatusReader, createStatusV1Reader, createStatusV2Reader } from "./reads/by-status.ts";
export { type ContextListReader, createContextTableReader } from "./reads/by-context-table.ts";
export { type ApiItem, type ListByContextRequest, type ListResult, type WorkflowReader, WORKFLOW_SUMMARY_ATTRIBUTES } from "./reads/view.ts";
export { type ApiDeps, createApiApp } from "./api/app.ts";
export { parseIfMatch, registerWrites } from "./api/write-routes.ts";
export { type TaskWrite, type WorkflowWriter, type WriteRelease, type WriterOptions, DEFAULT_WRITER_OPTIONS, createWorkflowWriter } from "./writes/writer.ts";
export { MAX_BODY_BYTES, MAX_CONTEXTS, MAX_TASKS, NewTaskBody, NewV1WorkflowBody, NewWorkflowBody, TaskPatchBody, WorkflowPatchBody } from "./writes/bodies.ts";
export { BodyTooLargeError, InvalidIfMatchError, TaskNotFoundError, WorkflowLimitError, WriteConflictError } from "./writes/errors.ts";
export { REVISION_ATTRIBUTE } from "./writes/revision.ts";
export { type ApiOptions, DEFAULT_ROUTE_MIGRATIONS, buildApiDeps, deriveTokenSecret } from "./api/deps.ts";
export {
  type TenantResolver,
  DEV_TOKEN_TTL_SECONDS,
  MAX_TOKEN_LIFETIME_SECONDS,
  authorizerTenant,
  hs256Tenant,
  signDevToken,
} from "./api/auth.ts";
export { type LocalApiServer, type LocalServerOptions, DEFAULT_LOCAL_SERVER_OPTIONS, startLocalApiServer } from "./api/local-server.ts";
export { WorkflowNotFoundError } from "./api/errors.ts";
export { type DemoSizes, type DemoData, DEFAULT_DEMO_SIZES, seedDemoTable } from "./demo/scenario.ts";
export { type DemoWalkOptions, type DemoResult, type DemoRuntime, DEFAULT_DEMO_WALK, walkDemo } from "./demo/walk.ts";
