/**
 * cdk-nag for the app: AwsSolutions checks on every synth, and the few suppressions ferry
 * accepts, each with the reason a reviewer needs. Findings that can be fixed are fixed in
 * the stacks (scoped IAM, encrypted enforce-SSL queues, logging, tracing); what is left is
 * either AWS's own shape (no resource-level scope exists) or SST's internals.
 */
import { Aspects, Stack } from "aws-cdk-lib";
import type { IConstruct } from "constructs";
import { AwsSolutionsChecks, NagSuppressions } from "cdk-nag";
import type { App, Stack as SstStack } from "sst/constructs";

/** The managed policy the Lambda service role gets (CDK default for every function). */
const BASIC_EXECUTION_ROLE = "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";

const BASIC_EXECUTION_REASON =
  "AWSLambdaBasicExecutionRole grants only logs:CreateLogGroup, logs:CreateLogStream and logs:PutLogEvents, the minimum for a function to write its own logs; AWS maintains it.";

const RUNTIME_REASON =
  "nodejs22.x is an AWS-supported LTS runtime (deprecation 2027-04) and the one SST v2 pins for its own handlers; the project's tests run on Node >= 20. Move to nodejs24.x together with CI.";

const XRAY_REASON =
  "xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing) support no resource-level scope (AWS Service Authorization Reference: X-Ray).";

/** Suppressions every ferry function carries; `wildcardReason` explains any other `*` resource it needs. */
export function suppressFunctionBaseline(fn: IConstruct, wildcardReason?: string): void {
  NagSuppressions.addResourceSuppressions(
    fn,
    [
      { id: "AwsSolutions-IAM4", reason: BASIC_EXECUTION_REASON, appliesTo: [BASIC_EXECUTION_ROLE] },
      { id: "AwsSolutions-L1", reason: RUNTIME_REASON },
      { id: "AwsSolutions-IAM5", reason: wildcardReason ? `${XRAY_REASON} ${wildcardReason}` : XRAY_REASON, appliesTo: ["Resource::*"] },
    ],
    true,
  );
}

/** SST v2 adds a CustomResourceHandler function to every stack (sst/constructs/Stack.js). */
function suppressSstInternals(stack: SstStack): void {
  NagSuppressions.addResourceSuppressions(
    stack.customResourceHandler,
    [
      {
        id: "AwsSolutions-IAM4",
        reason: `SST v2's own custom-resource handler, created in every stack with CDK's default role. ${BASIC_EXECUTION_REASON}`,
        appliesTo: [BASIC_EXECUTION_ROLE],
      },
      {
        id: "AwsSolutions-L1",
        reason: "SST v2's own custom-resource handler; SST hard-codes its runtime (nodejs22.x, supported until 2027-04) and it runs no ferry code.",
      },
    ],
    true,
  );
}

/** Runs AwsSolutions checks over `app` and adds the app-wide suppressions; call after adding the stacks. */
export function applyNagChecks(app: App): void {
  for (const child of app.node.children) {
    if (Stack.isStack(child) && "customResourceHandler" in child) suppressSstInternals(child as SstStack);
  }
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
}
