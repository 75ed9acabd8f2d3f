/**
 * The example service's tables, defined once: `stacks/Storage.ts` deploys them and the local
 * bootstrap (`ferry seed`, `ferry demo`, the tests) creates them from the same values.
 */
import { StreamViewType, type TableDefinition } from "@ferry/core";
import { WORKFLOW_SUMMARY_ATTRIBUTES } from "./reads/view.ts";

/** The GSI migration 0003 feeds in place: byStatusPk = <tenant>#<status>, byStatusSk = <started_at>#WF#<id>. */
export const BY_STATUS_INDEX = {
  name: "byStatus",
  partitionKey: { name: "byStatusPk", type: "S" },
  sortKey: { name: "byStatusSk", type: "S" },
  // The listed fields only: the embedded tasks (most of an item's size) stay out of the index.
  projection: { type: "INCLUDE", attributes: WORKFLOW_SUMMARY_ATTRIBUTES },
} as const;

/**
 * The multi-tenant Workflows table of seed 000: PK = tenant id, SK = `WF#<workflowId>`, and the
 * `byStatus` GSI (sparse: an item is in it once 0003 set its keys).
 */
export const WORKFLOWS_TABLE: TableDefinition = {
  logicalName: "Workflows",
  partitionKey: { name: "PK", type: "S" },
  sortKey: { name: "SK", type: "S" },
  streamViewType: StreamViewType.NEW_AND_OLD_IMAGES,
  globalIndexes: [BY_STATUS_INDEX],
};

/** Default physical table name for local use (`--table` overrides it). */
export const DEFAULT_TABLE_NAME = "Workflows";

/**
 * The table migration 0004 copies workflows into: PK = <tenant>#<contextId>, SK = WF#<id>.
 * Nothing reads its stream: create it with `{ stream: false }` (the stack deploys it without one).
 */
export const WORKFLOWS_BY_CONTEXT_TABLE: TableDefinition = {
  logicalName: "WorkflowsByContext",
  partitionKey: { name: "PK", type: "S" },
  sortKey: { name: "SK", type: "S" },
  streamViewType: StreamViewType.NEW_AND_OLD_IMAGES,
};

/** Default physical name of the copy's table for local use. */
export const DEFAULT_BY_CONTEXT_TABLE_NAME = "WorkflowsByContext";
