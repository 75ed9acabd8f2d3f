/**
 * Backfill: the state machine defined by the repo's ASL file (the very file the local
 * runtime executes), with its five task functions, logging, tracing and least-privilege IAM.
 */
import { BACKFILL_TASK_RESOURCES, type BackfillTaskName, backfillDefinitionText } from "@ferry/core/backfill/definition";
import { ArnFormat, Duration, Stack } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as logs from "aws-cdk-lib/aws-logs";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { NagSuppressions } from "cdk-nag";
import { Function as SstFunction, type StackContext, use } from "sst/constructs";
import { suppressFunctionBaseline } from "./nag.ts";
import { Storage } from "./Storage.ts";
import { targetTablesEnv, targetTablesPolicy } from "./target-table.ts";

/** Task state -> exported handler in packages/functions/src/backfill.ts. */
export const BACKFILL_HANDLERS: Record<BackfillTaskName, string> = {
  PlanSegments: "planSegments",
  Page: "page",
  Finish: "finish",
  ContinueAsNewExecution: "continueAsNew",
  RecordFailure: "recordFailure",
};

export function Backfill({ stack, app }: StackContext) {
  const { table, control, targets } = use(Storage);
  // A fixed name lets the continue task know the state machine's ARN without a cycle.
  const stateMachineName = `${app.stage}-${app.name}-backfill`;
  const stateMachineArn = Stack.of(stack).formatArn({
    service: "states",
    resource: "stateMachine",
    resourceName: stateMachineName,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
  const environment = {
    FERRY_TABLE: table.tableName,
    FERRY_CONTROL_TABLE: control.tableName,
    FERRY_STATE_MACHINE_ARN: stateMachineArn,
    ...targetTablesEnv(targets),
  };

  const functions = {} as Record<BackfillTaskName, SstFunction>;
  for (const [task, exported] of Object.entries(BACKFILL_HANDLERS) as [BackfillTaskName, string][]) {
    functions[task] = new SstFunction(stack, `Backfill${task}`, {
      handler: `packages/functions/src/backfill.${exported}`,
      timeout: task === "Page" ? 300 : 60,
      memorySize: task === "Page" ? 1024 : 256,
      environment,
      tracing: "active",
    });
    control.cdk.table.grantReadWriteData(functions[task]);
  }
  // The page: Scan, plain writes as PartiQL INSERTs (PutItem where the key is taken), the validation BatchGetItem
  // (GetItem on a repair's re-read) and repairs as transactions (ConditionCheckItem, PutItem, DeleteItem).
  // On the table's ARN only: Table.grant would add `<arn>/index/*` once the table has a GSI (the example's byStatus).
  functions.Page.addToRolePolicy(
    new iam.PolicyStatement({
      resources: [table.tableArn],
      actions: [
        "dynamodb:Scan",
        "dynamodb:PartiQLInsert",
        "dynamodb:PutItem",
        "dynamodb:BatchGetItem",
        "dynamodb:GetItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:DeleteItem",
        "dynamodb:DescribeTable",
      ],
    }),
  );
  // A copy's records go to its target table (exact ARNs); the other tasks only read its key schema when they bind the migration.
  const targetPolicy = targetTablesPolicy(targets);
  if (targetPolicy) functions.Page.addToRolePolicy(targetPolicy);
  const describeTargets = targetTablesPolicy(targets, ["dynamodb:DescribeTable"]);
  if (describeTargets) for (const [task, fn] of Object.entries(functions)) if (task !== "Page") fn.addToRolePolicy(describeTargets);
  functions.ContinueAsNewExecution.addToRolePolicy(new iam.PolicyStatement({ actions: ["states:StartExecution"], resources: [stateMachineArn] }));

  const logGroup = new logs.LogGroup(stack, "BackfillLogs", { retention: logs.RetentionDays.ONE_MONTH });
  const stateMachine = new sfn.StateMachine(stack, "BackfillStateMachine", {
    stateMachineName,
    stateMachineType: sfn.StateMachineType.STANDARD,
    definitionBody: sfn.DefinitionBody.fromString(backfillDefinitionText()),
    definitionSubstitutions: Object.fromEntries(
      (Object.entries(BACKFILL_TASK_RESOURCES) as [BackfillTaskName, string][]).map(([task, variable]) => [variable, functions[task].functionArn]),
    ),
    logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    tracingEnabled: true,
    timeout: Duration.days(7),
  });
  // Exactly the five functions (fn.grantInvoke would add `<arn>:*`, every version and alias).
  stateMachine.addToRolePolicy(
    new iam.PolicyStatement({ actions: ["lambda:InvokeFunction"], resources: Object.values(functions).map((fn) => fn.functionArn) }),
  );
  for (const fn of Object.values(functions)) suppressFunctionBaseline(fn);
  NagSuppressions.addResourceSuppressions(
    stateMachine,
    [
      {
        id: "AwsSolutions-IAM5",
        reason:
          "Step Functions logging needs the CloudWatch Logs vended-delivery actions (logs:*LogDelivery*, PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups) and tracing needs X-Ray's, none of which support a resource-level scope (AWS docs: 'IAM policies for logging to CloudWatch Logs').",
        appliesTo: ["Resource::*"],
      },
    ],
    true,
  );
  stack.addOutputs({ BackfillStateMachineArn: stateMachine.stateMachineArn });
  return { stateMachine };
}
