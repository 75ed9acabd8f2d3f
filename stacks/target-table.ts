/**
 * The target tables of the `table` migrations (a copy into another table): ferry's CLI never
 * creates or deletes a table, so the stacks declare them. With nothing configured (example
 * mode) each target is a table of the stack, keyed as its migration's `target.keys` declare;
 * when the stage names an existing one (FERRY_TARGET_TABLE_NAME or FERRY_TARGET_TABLE_ARN, in
 * the environment or `.env.<stage>`), it is imported by its name or ARN and never becomes a
 * resource. The dual-write functions and the backfill page get their grants on these exact
 * ARNs, and FERRY_TARGET_TABLES (JSON: migration id -> table name) tells the handlers where
 * each migration's records go (definition/table-keys.ts targetTableName).
 */
import { FerryError } from "@ferry/core";
import type { Migration } from "@ferry/core/definition/define-migration";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as iam from "aws-cdk-lib/aws-iam";
import type { Construct } from "constructs";
import { migrationSuffix } from "./migrations.ts";

/** The stage variables that name an existing target table (a stage with one `table` migration). */
export const TARGET_TABLE_ENV = { name: "FERRY_TARGET_TABLE_NAME", arn: "FERRY_TARGET_TABLE_ARN" } as const;

/** The actions the dual-write and the backfill page need on a target: owner-conditional writes, the validation reads, the repair transactions, the key schema. */
export const TARGET_TABLE_ACTIONS = [
  "dynamodb:PutItem",
  "dynamodb:DeleteItem",
  "dynamodb:PartiQLInsert",
  "dynamodb:BatchGetItem",
  "dynamodb:GetItem",
  "dynamodb:ConditionCheckItem",
  "dynamodb:DescribeTable",
];

const TABLE_ARN = /^arn:(aws[a-z-]*):dynamodb:([a-z0-9-]+):(\d{12}):table\/([A-Za-z0-9_.-]{3,255})$/;

/** A target the stacks cannot declare: no key schema in the file, or a stage variable that cannot name one table. */
export class InvalidTargetTableConfigError extends FerryError {
  constructor(
    readonly stage: string,
    problem: string,
  ) {
    super(`Stage "${stage}": ${problem}`);
  }
}

export interface TargetTable {
  migrationId: string;
  tableName: string;
  tableArn: string;
  table: dynamodb.ITable;
}

/** Declares (or imports) the target of every `table` migration in `migrations`. */
export function targetTables(scope: Construct, stage: string, migrations: Migration[], env: NodeJS.ProcessEnv = process.env, removable = false): TargetTable[] {
  const copies = migrations.filter((m) => m.kind === "table" && m.target);
  const name = env[TARGET_TABLE_ENV.name] || undefined;
  const arn = env[TARGET_TABLE_ENV.arn] || undefined;
  if ((name || arn) && copies.length > 1)
    throw new InvalidTargetTableConfigError(
      stage,
      `${TARGET_TABLE_ENV.name}/${TARGET_TABLE_ENV.arn} name one existing target, but ${copies.length} migrations copy into a table.`,
    );
  if (arn && !TABLE_ARN.test(arn)) throw new InvalidTargetTableConfigError(stage, `${TARGET_TABLE_ENV.arn}="${arn}" is not a DynamoDB table ARN.`);
  return copies.map((migration) => {
    const suffix = migrationSuffix(migration.id);
    if (name || arn) {
      const table = dynamodb.Table.fromTableAttributes(scope, `TargetTable${suffix}`, arn ? { tableArn: arn } : { tableName: name as string });
      return { migrationId: migration.id, tableName: table.tableName, tableArn: table.tableArn, table };
    }
    const keys = migration.target?.keys;
    if (!keys)
      throw new InvalidTargetTableConfigError(
        stage,
        `${migration.id} copies into ${migration.target?.table} but declares no target.keys: declare them so the stack can create the table, or set ${TARGET_TABLE_ENV.name} to an existing one.`,
      );
    const attribute = (a: { name: string; type: "S" | "N" | "B" }) => ({
      name: a.name,
      type: a.type === "S" ? dynamodb.AttributeType.STRING : a.type === "N" ? dynamodb.AttributeType.NUMBER : dynamodb.AttributeType.BINARY,
    });
    const table = new dynamodb.Table(scope, `TargetTable${suffix}`, {
      partitionKey: attribute(keys.partitionKey),
      ...(keys.sortKey ? { sortKey: attribute(keys.sortKey) } : {}),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: !removable,
    });
    return { migrationId: migration.id, tableName: table.tableName, tableArn: table.tableArn, table };
  });
}

/** FERRY_TARGET_TABLES for the handlers: migration id -> the target's physical name. */
export function targetTablesEnv(targets: TargetTable[]): Record<string, string> {
  return targets.length ? { FERRY_TARGET_TABLES: JSON.stringify(Object.fromEntries(targets.map((t) => [t.migrationId, t.tableName]))) } : {};
}

/** The grant of TARGET_TABLE_ACTIONS on exactly these targets' ARNs. */
export function targetTablesPolicy(targets: TargetTable[], actions: string[] = TARGET_TABLE_ACTIONS): iam.PolicyStatement | undefined {
  return targets.length ? new iam.PolicyStatement({ actions, resources: targets.map((t) => t.tableArn) }) : undefined;
}
