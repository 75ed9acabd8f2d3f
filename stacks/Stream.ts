/**
 * Stream: one dual-write consumer per migration found in `migrations/`, fed by the data
 * table's stream through an event source mapping whose settings are the very object the
 * local mapping runs with (dualwrite/stream-settings.ts), and dead-lettering to an encrypted
 * SQS queue. IAM is scoped to the stream, the table and the control table: their exact ARNs,
 * whether the Storage stack created the table or attached to an existing one.
 */
import { type StreamSettings, streamSettings } from "@ferry/core/dualwrite/stream-settings";
import { Duration } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { NagSuppressions } from "cdk-nag";
import { Function as SstFunction, type StackContext, use } from "sst/constructs";
import { discoverMigrations, migrationSuffix } from "./migrations.ts";
import { suppressFunctionBaseline } from "./nag.ts";
import { Storage } from "./Storage.ts";
import { targetTablesEnv, targetTablesPolicy } from "./target-table.ts";

/**
 * The CloudFormation properties of the mapping, one per setting: `satisfies` makes a new
 * setting a compile error here until it is deployed too.
 */
export function eventSourceMappingProps(settings: StreamSettings) {
  return {
    batchSize: settings.batchSize,
    bisectBatchOnFunctionError: settings.bisectBatchOnFunctionError,
    maximumRetryAttempts: settings.maximumRetryAttempts,
    maximumRecordAgeInSeconds: settings.maximumRecordAgeInSeconds,
    functionResponseTypes: [...settings.functionResponseTypes],
    startingPosition: settings.startingPosition,
    // No filter when the source has no key prefix (selected by match): every record reaches the handler.
    filterCriteria: settings.filterCriteria ? { filters: settings.filterCriteria.filters.map((f) => ({ pattern: f.pattern })) } : undefined,
  } satisfies Record<keyof StreamSettings, unknown>;
}

/**
 * The consumer's actions on the data table: the applier's conditional puts and deletes, and
 * DescribeTable, where the engine reads the table's key schema (any table, any key names).
 */
export const DUAL_WRITE_TABLE_ACTIONS = ["dynamodb:BatchWriteItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:DescribeTable"];
/** On the control table: failure records, heartbeat. */
export const DUAL_WRITE_CONTROL_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"];
/** Reading the stream (the mapping polls it with the function's role). */
export const STREAM_READ_ACTIONS = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"];

export function Stream({ stack }: StackContext) {
  const { table, control, targets } = use(Storage);
  const streamArn = table.cdk.table.tableStreamArn;
  if (!streamArn) throw new Error("The Storage table has no stream; the dual-write consumers need one (stacks/Storage.ts).");

  const consumers: Record<string, { fn: SstFunction; deadLetters: sqs.Queue }> = {};
  for (const migration of discoverMigrations()) {
    const suffix = migrationSuffix(migration.id);
    // A copy writes its target table (exact ARN): its own only.
    const ownTarget = targets.filter((t) => t.migrationId === migration.id);
    const deadLetters = new sqs.Queue(stack, `DeadLetters${suffix}`, {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const fn = new SstFunction(stack, `DualWrite${suffix}`, {
      handler: "packages/functions/src/dual-write.handler",
      description: `ferry dual-write for ${migration.id}`,
      timeout: 60,
      memorySize: 512,
      environment: {
        FERRY_MIGRATION: migration.id,
        FERRY_TABLE: table.tableName,
        FERRY_CONTROL_TABLE: control.tableName,
        ...targetTablesEnv(ownTarget),
      },
    });
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: STREAM_READ_ACTIONS, resources: [streamArn] }));
    // ListStreams has no resource-level permissions (AWS Service Authorization Reference);
    // Lambda checks for it when it creates a DynamoDB stream mapping.
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ["dynamodb:ListStreams"], resources: ["*"] }));
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: DUAL_WRITE_TABLE_ACTIONS, resources: [table.tableArn] }));
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: DUAL_WRITE_CONTROL_ACTIONS, resources: [control.tableArn] }));
    const targetPolicy = targetTablesPolicy(ownTarget);
    if (targetPolicy) fn.addToRolePolicy(targetPolicy);
    deadLetters.grantSendMessages(fn);

    const mapping = new lambda.CfnEventSourceMapping(stack, `DualWriteMapping${suffix}`, {
      functionName: fn.functionName,
      eventSourceArn: streamArn,
      ...eventSourceMappingProps(streamSettings(migration)),
      destinationConfig: { onFailure: { destination: deadLetters.queueArn } },
    });
    // Lambda validates the role's stream permissions when it creates the mapping.
    mapping.node.addDependency(fn);

    NagSuppressions.addResourceSuppressions(deadLetters, [
      {
        id: "AwsSolutions-SQS3",
        reason:
          "This queue is the dead letter itself: the stream mapping's on-failure destination, holding the stream positions of records the dual-write gave up on, read by an operator (ferry status / redrive), never by a consumer whose failures would need a DLQ of their own.",
      },
    ]);
    suppressFunctionBaseline(
      fn,
      "dynamodb:ListStreams supports no resource-level scope either; the other stream actions are scoped to the table's stream ARN.",
    );
    // Output names carry the migration: DeadLetterQueueUrl0001WorkflowContextIndex, DualWriteFunction0001...
    stack.addOutputs({ [`DeadLetterQueueUrl${suffix}`]: deadLetters.queueUrl, [`DualWriteFunction${suffix}`]: fn.functionName });
    consumers[migration.id] = { fn, deadLetters };
  }
  return { consumers };
}
