import { BY_STATUS_INDEX, WORKFLOWS_BY_CONTEXT_TABLE, WORKFLOWS_TABLE } from "@ferry/example-workflows";
import { Match, type Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { migrationSuffix } from "../../stacks/migrations.ts";
import { Storage } from "../../stacks/Storage.ts";
import { synth } from "../support/synth.ts";

describe("Storage stack (stage prod)", () => {
  let template: Template;
  beforeAll(async () => {
    const templateOf = await synth("prod", [Storage]);
    template = templateOf(Storage);
  });

  it("has the shared key schema and a NEW_AND_OLD_IMAGES stream", () => {
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      KeySchema: [
        { AttributeName: WORKFLOWS_TABLE.partitionKey.name, KeyType: "HASH" },
        { AttributeName: WORKFLOWS_TABLE.sortKey!.name, KeyType: "RANGE" },
      ],
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: WORKFLOWS_TABLE.partitionKey.name, AttributeType: "S" },
        { AttributeName: WORKFLOWS_TABLE.sortKey!.name, AttributeType: "S" },
      ]),
      StreamSpecification: { StreamViewType: WORKFLOWS_TABLE.streamViewType },
      BillingMode: "PAY_PER_REQUEST",
    });
    expect(WORKFLOWS_TABLE.streamViewType).toBe("NEW_AND_OLD_IMAGES");
  });

  it("declares the byStatus GSI migration 0003 feeds, keyed by its attributes, projecting the listed fields", () => {
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      TableName: Match.stringLikeRegexp("-Workflows$"),
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: "byStatusPk", AttributeType: "S" },
        { AttributeName: "byStatusSk", AttributeType: "S" },
      ]),
      GlobalSecondaryIndexes: [
        {
          IndexName: BY_STATUS_INDEX.name,
          KeySchema: [
            { AttributeName: "byStatusPk", KeyType: "HASH" },
            { AttributeName: "byStatusSk", KeyType: "RANGE" },
          ],
          Projection: { ProjectionType: "INCLUDE", NonKeyAttributes: [...BY_STATUS_INDEX.projection.attributes] },
        },
      ],
    });
  });

  it("declares migration 0004's copy target (WorkflowsByContext's keys) in example mode, without a stream", () => {
    // stacks/target-table.ts names it after the migration.
    const targets = Object.entries(template.findResources("AWS::DynamoDB::Table")).filter(([id]) =>
      id.startsWith(`TargetTable${migrationSuffix("0004_workflows-by-context-table")}`),
    );
    expect(targets).toHaveLength(1);
    expect(targets[0]?.[1].Properties).toMatchObject({
      KeySchema: [
        { AttributeName: WORKFLOWS_BY_CONTEXT_TABLE.partitionKey.name, KeyType: "HASH" },
        { AttributeName: WORKFLOWS_BY_CONTEXT_TABLE.sortKey?.name, KeyType: "RANGE" },
      ],
      DeletionProtectionEnabled: true,
    });
    expect(targets[0]?.[1].Properties.StreamSpecification).toBeUndefined();
  });

  it("turns on point-in-time recovery and deletion protection outside dev stages", () => {
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      DeletionProtectionEnabled: true,
    });
  });

  it("expires the control table's usage buckets and API server records by their expiresAt", () => {
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      KeySchema: [
        { AttributeName: "PK", KeyType: "HASH" },
        { AttributeName: "SK", KeyType: "RANGE" },
      ],
      TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
    });
  });
});
