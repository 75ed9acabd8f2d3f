import { WORKFLOWS_TABLE } from "@ferry/example-workflows";
import type { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
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
      AttributeDefinitions: [
        { AttributeName: WORKFLOWS_TABLE.partitionKey.name, AttributeType: "S" },
        { AttributeName: WORKFLOWS_TABLE.sortKey!.name, AttributeType: "S" },
      ],
      StreamSpecification: { StreamViewType: WORKFLOWS_TABLE.streamViewType },
      BillingMode: "PAY_PER_REQUEST",
    });
    expect(WORKFLOWS_TABLE.streamViewType).toBe("NEW_AND_OLD_IMAGES");
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
