import aslValidator from "asl-validator";
import { BACKFILL_TASK_RESOURCES, backfillDefinitionText } from "@ferry/core";
import type { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { Backfill } from "../../stacks/Backfill.ts";
import { Storage } from "../../stacks/Storage.ts";
import { synth } from "../support/synth.ts";

describe("Backfill stack", () => {
  let template: Template;
  beforeAll(async () => {
    const templateOf = await synth("prod", [Storage, Backfill]);
    template = templateOf(Backfill);
  }, 180_000);

  function stateMachine() {
    const machines = Object.values(template.findResources("AWS::StepFunctions::StateMachine"));
    expect(machines).toHaveLength(1);
    return machines[0]!.Properties as {
      DefinitionString: string;
      DefinitionSubstitutions: Record<string, unknown>;
      TracingConfiguration?: { Enabled: boolean };
      LoggingConfiguration?: unknown;
    };
  }

  it("deploys exactly the repo's ASL file, with a substitution per task ARN", () => {
    const props = stateMachine();
    expect(props.DefinitionString).toBe(backfillDefinitionText());
    expect(Object.keys(props.DefinitionSubstitutions).sort()).toEqual(Object.values(BACKFILL_TASK_RESOURCES).sort());
    for (const value of Object.values(props.DefinitionSubstitutions)) expect(JSON.stringify(value)).toMatch(/Fn::GetAtt.*Arn/);
  });

  it("passes asl-validator once the ARNs are substituted", () => {
    const props = stateMachine();
    const substituted = props.DefinitionString.replace(/\$\{(\w+)\}/g, (_, name) => `arn:aws:lambda:us-east-1:123456789012:function:${name}`);
    const result = aslValidator(JSON.parse(substituted));
    expect(result.isValid, result.errorsText("\n")).toBe(true);
  });

  it("turns on logging and tracing", () => {
    const props = stateMachine();
    expect(props.TracingConfiguration).toEqual({ Enabled: true });
    expect(props.LoggingConfiguration).toBeDefined();
  });

  it("scopes the continue task's StartExecution to its own state machine", () => {
    const policies = template.findResources("AWS::IAM::Policy");
    const statements = Object.values(policies).flatMap(
      (p) => (p.Properties as { PolicyDocument: { Statement: { Action: unknown; Resource: unknown }[] } }).PolicyDocument.Statement,
    );
    const start = statements.filter((s) => JSON.stringify(s.Action).includes("states:StartExecution"));
    expect(start).toHaveLength(1);
    expect(JSON.stringify(start[0]!.Resource)).toContain(":states:");
    expect(JSON.stringify(start[0]!.Resource)).toContain(":stateMachine:prod-ferry-backfill");
    // X-Ray's trace calls and the CloudWatch Logs vended-delivery calls Step Functions logging
    // needs support no resource-level scope (AWS docs); everything else must be scoped.
    const unscopable =
      /"(xray:[A-Za-z]+|logs:(Create|Get|Update|Delete|List)LogDeliver(y|ies)|logs:PutResourcePolicy|logs:DescribeResourcePolicies|logs:DescribeLogGroups)"/g;
    const unscoped = statements.filter(
      (s) =>
        s.Resource === "*" &&
        JSON.stringify(s.Action)
          .replace(unscopable, "")
          .match(/"[a-z]+:/),
    );
    expect(unscoped).toEqual([]);
  });
});
