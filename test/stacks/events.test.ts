// The step-event bus in the Storage stack (stage prod, synthesized with the cdk-nag aspect
// as sst.config.ts applies it): the bus, its archive, the log rule and its resource policy,
// the EventBusName/EventBusArn outputs the stage-outputs contract reads, and no unsuppressed
// cdk-nag finding.
import { STEP_EVENT_DETAIL_TYPE, STEP_EVENT_SOURCE } from "@ferry/core/lifecycle/event-bridge";
import { STAGE_OUTPUTS } from "@ferry/core/stage/outputs";
import { Template } from "aws-cdk-lib/assertions";
import { App, getStack } from "sst/constructs";
import { initProject } from "sst/project.js";
import { beforeAll, describe, expect, it } from "vitest";
import { STEP_EVENT_RETENTION_DAYS } from "../../stacks/events.ts";
import { applyNagChecks } from "../../stacks/nag.ts";
import { Storage } from "../../stacks/Storage.ts";

let template: Template;
let messages: { level: string; path: string; text: string }[];
beforeAll(async () => {
  process.env.SST_TELEMETRY_DISABLED = "1";
  await initProject({ stage: "prod" });
  const app = new App({ mode: "deploy", stage: "prod", name: "ferry", region: "us-east-1", account: "123456789012" });
  app.stack(Storage);
  applyNagChecks(app);
  await app.finish();
  const artifact = app.synth().getStackArtifact(getStack(Storage).artifactId);
  template = Template.fromJSON(artifact.template);
  messages = artifact.messages.map((m) => ({ level: m.level, path: m.id, text: String(m.entry.data) }));
}, 120_000);

describe("step-event bus (Storage stack, stage prod)", () => {
  it("creates one bus named for the stage, and outputs its name and ARN", () => {
    template.resourceCountIs("AWS::Events::EventBus", 1);
    template.hasResourceProperties("AWS::Events::EventBus", { Name: "prod-ferry-steps" });
    const bus = Object.keys(template.findResources("AWS::Events::EventBus"))[0]!;
    template.hasOutput("EventBusName", { Value: { Ref: bus } });
    template.hasOutput("EventBusArn", { Value: { "Fn::GetAtt": [bus, "Arn"] } });
    expect(STAGE_OUTPUTS.Storage).toEqual(expect.arrayContaining(["EventBusName", "EventBusArn"]));
  });

  it("archives step events and copies them to a log group EventBridge may write to", () => {
    const pattern = { source: [STEP_EVENT_SOURCE], "detail-type": [STEP_EVENT_DETAIL_TYPE] };
    template.hasResourceProperties("AWS::Events::Archive", { EventPattern: pattern, RetentionDays: STEP_EVENT_RETENTION_DAYS });
    template.hasResourceProperties("AWS::Logs::LogGroup", { LogGroupName: "/aws/events/prod-ferry-steps", RetentionInDays: STEP_EVENT_RETENTION_DAYS });
    const rule = Object.values(template.findResources("AWS::Events::Rule"))[0]!.Properties as Record<string, unknown>;
    expect(rule.EventPattern).toEqual(pattern);
    const logGroup = Object.keys(template.findResources("AWS::Logs::LogGroup"))[0]!;
    expect(JSON.stringify(rule.Targets)).toContain(`:log-group:",{"Ref":"${logGroup}"}`);
    template.resourceCountIs("AWS::Lambda::Function", 1); // SST's own custom-resource handler only: no log-policy Lambda
    // The document is a Fn::Join (it embeds the log group's ARN): check its parts.
    const policy = JSON.stringify(Object.values(template.findResources("AWS::Logs::ResourcePolicy"))[0]!.Properties!.PolicyDocument);
    for (const part of [
      '\\"logs:CreateLogStream\\",\\"logs:PutLogEvents\\"',
      '\\"events.amazonaws.com\\",\\"delivery.logs.amazonaws.com\\"',
      `{"Fn::GetAtt":["${logGroup}","Arn"]}`,
    ]) {
      expect(policy).toContain(part);
    }
  });

  it("passes cdk-nag AwsSolutionsChecks with no unsuppressed finding", () => {
    const findings = messages.filter((m) => m.level !== "info" && m.text.includes("AwsSolutions-"));
    expect(findings.map((f) => `${f.path}: ${f.text.slice(0, 120)}`)).toEqual([]);
    // The checks did run: the app-wide suppressions they honour are in the template.
    expect(JSON.stringify(template.toJSON())).toContain("cdk_nag");
  });
});
