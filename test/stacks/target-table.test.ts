// The `table` migrations' target tables in the stacks: declared with the file's target keys in
// example mode, imported (never a resource) when the stage names an existing one, granted on
// exact ARNs, and refused with a message when the stack cannot know the table.
import { defineMigration } from "@ferry/core";
import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import * as iam from "aws-cdk-lib/aws-iam";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { InvalidTargetTableConfigError, TARGET_TABLE_ACTIONS, targetTables, targetTablesEnv, targetTablesPolicy } from "../../stacks/target-table.ts";

const copy = (keys = true) =>
  defineMigration({
    id: "0009_items-by-context",
    description: "copy",
    table: "Items",
    kind: "table",
    target: { table: "ItemsByContext", ...(keys ? { keys: { partitionKey: { name: "ctx", type: "S" }, sortKey: { name: "rank", type: "N" } } } : {}) },
    source: { skPrefix: "ITEM#" },
    schema: z.object({ c: z.string() }),
    derive: (i) => [{ ctx: i.c, rank: 1 }],
  });

function synthTargets(env: Record<string, string>, migrations = [copy()]) {
  const stack = new Stack(new App(), "Test", { env: { account: "123456789012", region: "us-east-1" } });
  const targets = targetTables(stack, "prod", migrations, env);
  const role = new iam.Role(stack, "Role", { assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com") });
  const policy = targetTablesPolicy(targets);
  if (policy) role.addToPolicy(policy);
  return { targets, template: Template.fromStack(stack), stack };
}

describe("the target tables of table migrations", () => {
  it("example mode: declares the target keyed as the file declares (PITR on, deletion protection), granted on its ARN", () => {
    const { template, targets } = synthTargets({});
    template.resourceCountIs("AWS::DynamoDB::Table", 1);
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      KeySchema: [
        { AttributeName: "ctx", KeyType: "HASH" },
        { AttributeName: "rank", KeyType: "RANGE" },
      ],
      AttributeDefinitions: [
        { AttributeName: "ctx", AttributeType: "S" },
        { AttributeName: "rank", AttributeType: "N" },
      ],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      DeletionProtectionEnabled: true,
    });
    // The grant names the declared table's ARN (Fn::GetAtt of its logical id), nothing wider.
    const logicalId = Object.keys(template.findResources("AWS::DynamoDB::Table"))[0];
    template.hasResourceProperties("AWS::IAM::Policy", {
      PolicyDocument: { Statement: [{ Action: TARGET_TABLE_ACTIONS, Resource: { "Fn::GetAtt": [logicalId, "Arn"] }, Effect: "Allow" }] },
    });
    expect(targetTablesEnv(targets)).toHaveProperty("FERRY_TARGET_TABLES");
  });

  it("an existing target (FERRY_TARGET_TABLE_ARN / _NAME) is imported, never a resource; the grant names its exact ARN", () => {
    const arn = "arn:aws:dynamodb:us-east-1:210987654321:table/items-by-context-prod";
    const { template } = synthTargets({ FERRY_TARGET_TABLE_ARN: arn });
    template.resourceCountIs("AWS::DynamoDB::Table", 0);
    template.hasResourceProperties("AWS::IAM::Policy", { PolicyDocument: { Statement: [{ Action: TARGET_TABLE_ACTIONS, Resource: arn, Effect: "Allow" }] } });
    const byName = synthTargets({ FERRY_TARGET_TABLE_NAME: "items-by-context-prod" });
    byName.template.resourceCountIs("AWS::DynamoDB::Table", 0);
    expect(JSON.stringify(byName.template.toJSON())).toContain("table/items-by-context-prod");
  });

  it("refuses a target it cannot declare or import, saying what to set", () => {
    expect(() => synthTargets({}, [copy(false)])).toThrow(InvalidTargetTableConfigError);
    expect(() => synthTargets({}, [copy(false)])).toThrow(/declares no target.keys.*FERRY_TARGET_TABLE_NAME/);
    expect(() => synthTargets({ FERRY_TARGET_TABLE_ARN: "items" })).toThrow(/is not a DynamoDB table ARN/);
  });

  it("declares nothing for migrations that are not copies", () => {
    const { template, targets } = synthTargets({}, []);
    expect(targets).toEqual([]);
    template.resourceCountIs("AWS::DynamoDB::Table", 0);
  });
});
