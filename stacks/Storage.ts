/**
 * Storage: the data table, the control table, and the bus ferry publishes step transitions
 * to (stacks/events.ts). The data table is either the example service's, built from the key
 * schema, stream setting and global indexes of its shared definition (the same values the
 * local bootstrap uses; with the byStatus GSI migration 0003 feeds), or, when the stage names one
 * (stacks/data-table.ts), an existing table imported by its attributes: CloudFormation never
 * creates, updates or deletes it.
 */
import { type TableDefinition, definedAttributes } from "@ferry/core";
import { WORKFLOWS_TABLE } from "@ferry/example-workflows";
import { Token } from "aws-cdk-lib";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import type { Construct } from "constructs";
import { type StackContext, Table } from "sst/constructs";
import { type AttachedTableConfig, dataTableConfig } from "./data-table.ts";
import { stepEventBus } from "./events.ts";
import { discoverMigrations } from "./migrations.ts";
import { targetTables } from "./target-table.ts";

/** Stages that may be deleted freely; every other stage gets deletion protection. */
export const DEV_STAGES = ["dev", "test", "local"];

export function isDevStage(stage: string): boolean {
  return DEV_STAGES.includes(stage) || stage.startsWith("dev-") || stage.startsWith("pr-");
}

/** The attached table as a CDK import: attributes only, no resource in the template. */
function attachedTable(scope: Construct, config: AttachedTableConfig): dynamodb.ITable {
  return dynamodb.Table.fromTableAttributes(scope, "AttachedTable", {
    ...(config.tableArn ? { tableArn: config.tableArn } : { tableName: config.tableName }),
    tableStreamArn: config.streamArn,
  });
}

const fieldType = (type: string): "string" | "number" | "binary" => (type === "S" ? "string" : type === "N" ? "number" : "binary");

/** SST Table props of a shared definition: its key and index attributes, its key schema and its global indexes. */
function tableShape(def: TableDefinition) {
  return {
    fields: Object.fromEntries(definedAttributes(def).map((a) => [a.name, fieldType(a.type)])),
    primaryIndex: { partitionKey: def.partitionKey.name, ...(def.sortKey ? { sortKey: def.sortKey.name } : {}) },
    ...(def.globalIndexes?.length
      ? {
          globalIndexes: Object.fromEntries(
            def.globalIndexes.map((index) => [
              index.name,
              {
                partitionKey: index.partitionKey.name,
                ...(index.sortKey ? { sortKey: index.sortKey.name } : {}),
                projection:
                  index.projection.type === "INCLUDE" ? [...index.projection.attributes] : (index.projection.type.toLowerCase() as "all" | "keys_only"),
              },
            ]),
          ),
        }
      : {}),
  };
}

export function Storage({ stack, app }: StackContext) {
  const def = WORKFLOWS_TABLE;
  const config = dataTableConfig(app.stage, process.env, Token.isUnresolved(stack.region) ? undefined : stack.region);
  const table =
    config.mode === "attach"
      ? new Table(stack, def.logicalName, { cdk: { table: attachedTable(stack, config) } })
      : new Table(stack, def.logicalName, {
          ...tableShape(def),
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
  // The `table` migrations' targets: declared here (example mode) or imported (FERRY_TARGET_TABLE_NAME / _ARN).
  const targets = targetTables(stack, app.stage, discoverMigrations(), process.env, isDevStage(app.stage));
  const { bus } = stepEventBus(stack, app);
  stack.addOutputs({
    TableName: table.tableName,
    TableArn: table.tableArn,
    ControlTableName: control.tableName,
    EventBusName: bus.eventBusName,
    EventBusArn: bus.eventBusArn,
  });
  // The example table's own indexes (an attached table's are not the stage's to grant).
  const indexArns = config.mode === "create" ? (def.globalIndexes ?? []).map((index) => `${table.tableArn}/index/${index.name}`) : [];
  return { table, control, bus, targets, indexArns };
}
