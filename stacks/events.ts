/**
 * Step events on AWS: one EventBridge bus per stage that `ferry` publishes every lifecycle
 * transition to (source "ferry", detail-type "ferry.step", detail = the `--events` JSON), so
 * teams can route them with their own rules (chat, pager, audit). The bus keeps an archive
 * (replayable) and a rule copies every step event to a log group, so they are visible with
 * `aws logs tail` without any other setup. Part of the Storage stack: its outputs are the
 * ones every `--stage` command already reads.
 */
import { ArnFormat, Duration, Stack } from "aws-cdk-lib";
import * as events from "aws-cdk-lib/aws-events";
import * as iam from "aws-cdk-lib/aws-iam";
import * as logs from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";
import type { App } from "sst/constructs";
import { STEP_EVENT_DETAIL_TYPE, STEP_EVENT_SOURCE } from "@ferry/core/lifecycle/event-bridge";

/** The pattern matching ferry's step events (what the log rule and the README's example use). */
export const STEP_EVENT_PATTERN = { source: [STEP_EVENT_SOURCE], detailType: [STEP_EVENT_DETAIL_TYPE] };

/** Days the archive and the log group keep step events. */
export const STEP_EVENT_RETENTION_DAYS = 90;

export interface StepEventBus {
  bus: events.EventBus;
  logGroup: logs.LogGroup;
}

/** The stage's step-event bus `<stage>-ferry-steps`, its archive and its log group. */
export function stepEventBus(scope: Construct, app: App): StepEventBus {
  const bus = new events.EventBus(scope, "StepEvents", { eventBusName: app.logicalPrefixedName("steps") });
  bus.archive("StepArchive", {
    description: "ferry step transitions, replayable",
    eventPattern: STEP_EVENT_PATTERN,
    retention: Duration.days(STEP_EVENT_RETENTION_DAYS),
  });
  // EventBridge writes to log groups under /aws/events/, allowed by the log group's resource policy.
  const logGroup = new logs.LogGroup(scope, "StepEventLogs", {
    logGroupName: `/aws/events/${app.logicalPrefixedName("steps")}`,
    retention: logs.RetentionDays.THREE_MONTHS,
  });
  new logs.ResourcePolicy(scope, "StepEventLogsPolicy", {
    policyStatements: [
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal("events.amazonaws.com"), new iam.ServicePrincipal("delivery.logs.amazonaws.com")],
        actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
        resources: [logGroup.logGroupArn],
      }),
    ],
  });
  const rule = new events.Rule(scope, "StepEventsToLogs", {
    eventBus: bus,
    eventPattern: STEP_EVENT_PATTERN,
    description: "copy ferry step events to the log group",
  });
  // A plain target (not aws-events-targets' CloudWatchLogGroup, which adds a custom-resource Lambda for the policy).
  rule.addTarget({
    bind: () => ({
      arn: Stack.of(scope).formatArn({ service: "logs", resource: "log-group", resourceName: logGroup.logGroupName, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
    }),
  });
  return { bus, logGroup };
}
