/**
 * The example service's table, defined once: `stacks/Storage.ts` deploys it and the local
 * bootstrap (`ferry seed`, `ferry demo`, the tests) creates it from the same values.
 */
import { StreamViewType, type TableDefinition } from "@ferry/core";

/** The multi-tenant Workflows table of seed 000: PK = tenant id, SK = `WF#<workflowId>`. */
export const WORKFLOWS_TABLE: TableDefinition = {
  logicalName: "Workflows",
  partitionKey: { name: "PK", type: "S" },
  sortKey: { name: "SK", type: "S" },
  streamViewType: StreamViewType.NEW_AND_OLD_IMAGES,
};

/** Default physical table name for local use (`--table` overrides it). */
export const DEFAULT_TABLE_NAME = "Workflows";
