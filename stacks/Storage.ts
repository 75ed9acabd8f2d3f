/**
 * Storage: the example service's table, built from the key schema and stream setting in
 * core's shared definition (the same values the local bootstrap uses), the control table,
 * and the bus ferry publishes step transitions to (stacks/events.ts).
 */
import { keyAttributes } from "@ferry/core/dynamo/key-schema";
import { WORKFLOWS_TABLE } from "@ferry/example-workflows";
import { type StackContext, Table } from "sst/constructs";
import { stepEventBus } from "./events.ts";

/** Stages that may be deleted freely; every other stage gets deletion protection. */
export const DEV_STAGES = ["dev", "test", "local"];

export function isDevStage(stage: string): boolean {
  return DEV_STAGES.includes(stage) || stage.startsWith("dev-") || stage.startsWith("pr-");
}

export function Storage({ stack, app }: StackContext) {
  const def = WORKFLOWS_TABLE;
  const table = new Table(stack, def.logicalName, {
    fields: Object.fromEntries(keyAttributes(def).map((a) => [a.name, a.type === "S" ? "string" : a.type === "N" ? "number" : "binary"])),
    primaryIndex: { partitionKey: def.partitionKey.name, ...(def.sortKey ? { sortKey: def.sortKey.name } : {}) },
    stream: def.streamViewType.toLowerCase() as "new_and_old_images",
    cdk: {
      table: {
        pointInTimeRecovery: true,
        deletionProtection: !isDevStage(app.stage),
      },
    },
  });
  // ferry's own records (state, checkpoints, heartbeats, dead letters): kept apart so they
  // never feed the data table's stream or scans.
  const control = new Table(stack, "Control", {
    fields: { PK: "string", SK: "string" },
    primaryIndex: { partitionKey: "PK", sortKey: "SK" },
    // Usage minute buckets and API server records carry `expiresAt` (a week after use).
    timeToLiveAttribute: "expiresAt",
    cdk: { table: { pointInTimeRecovery: true, deletionProtection: !isDevStage(app.stage) } },
  });
  const { bus } = stepEventBus(stack, app);
  stack.addOutputs({
    TableName: table.tableName,
    TableArn: table.tableArn,
    ControlTableName: control.tableName,
    EventBusName: bus.eventBusName,
    EventBusArn: bus.eventBusArn,
  });
  return { table, control, bus };
}
