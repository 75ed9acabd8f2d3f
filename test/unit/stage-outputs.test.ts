// --stage resolution: the stage's outputs from .sst/outputs.json (a temp project folder) or
// CloudFormation (answered at the SDK middleware), and the errors that say what to run.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CloudFormationClient } from "@aws-sdk/client-cloudformation";
import {
  InvalidStageNameError,
  StageNotDeployedError,
  StageOutputMissingError,
  StageOutputsFileError,
  requireStateMachineArn,
  resolveStageOutputs,
} from "@ferry/core/stage/outputs";
import { afterEach, describe, expect, it } from "vitest";
import { interceptCommands } from "../support/sdk-intercept.ts";

const SM = "arn:aws:states:eu-west-1:123456789012:stateMachine:dev-ferry-backfill";
const storage = {
  TableName: "dev-ferry-Workflows",
  TableArn: "arn:aws:dynamodb:eu-west-1:123456789012:table/dev-ferry-Workflows",
  ControlTableName: "dev-ferry-Control",
};

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A project folder with `.sst/outputs.json` holding `contents` (or no file when undefined). */
function project(contents?: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "ferry-stage-"));
  dirs.push(dir);
  if (contents !== undefined) {
    mkdirSync(join(dir, ".sst"));
    writeFileSync(join(dir, ".sst", "outputs.json"), typeof contents === "string" ? contents : JSON.stringify(contents));
  }
  return dir;
}

/** A CloudFormation client that knows `stacks` (by name) and nothing else. */
function cloudFormation(stacks: Record<string, Record<string, string>>, status = "UPDATE_COMPLETE") {
  const client = new CloudFormationClient({ region: "eu-west-1" });
  const calls = interceptCommands(client, {
    DescribeStacksCommand: (input) => {
      const outputs = stacks[input.StackName as string];
      if (!outputs) throw Object.assign(new Error(`Stack with id ${input.StackName} does not exist`), { name: "ValidationError" });
      return {
        Stacks: [
          { StackName: input.StackName, StackStatus: status, Outputs: Object.entries(outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })) },
        ],
      };
    },
  });
  return { client, calls };
}

describe("stage outputs", () => {
  it("reads the stage's stacks from .sst/outputs.json, with the region from the table's ARN", async () => {
    const dir = project({ "dev-ferry-Storage": storage, "dev-ferry-Backfill": { BackfillStateMachineArn: SM } });
    const { client, calls } = cloudFormation({});
    const outputs = await resolveStageOutputs("dev", { projectDir: dir, stacks: ["Backfill"], cloudFormation: client });
    expect(outputs).toMatchObject({
      stage: "dev",
      region: "eu-west-1",
      tableName: "dev-ferry-Workflows",
      controlTable: "dev-ferry-Control",
      stateMachineArn: SM,
    });
    expect(outputs.sources.Storage).toBe(join(dir, ".sst", "outputs.json"));
    expect(calls).toEqual([]);
  });

  it("asks CloudFormation for <stage>-ferry-<Stack> when the file holds another stage", async () => {
    const dir = project({ "prod-ferry-Storage": { ...storage, TableName: "prod-table" } });
    const { client, calls } = cloudFormation({ "dev-ferry-Storage": storage, "dev-ferry-Backfill": { BackfillStateMachineArn: SM } });
    const outputs = await resolveStageOutputs("dev", { projectDir: dir, stacks: ["Backfill"], cloudFormation: client, region: "eu-west-1" });
    expect(outputs.tableName).toBe("dev-ferry-Workflows");
    expect(requireStateMachineArn(outputs)).toBe(SM);
    expect(calls.map((c) => c.input.StackName)).toEqual(["dev-ferry-Storage", "dev-ferry-Backfill"]);
    expect(outputs.sources.Backfill).toBe("CloudFormation eu-west-1");
  });

  it("says the stage is not deployed and what to run when neither the file nor CloudFormation has it", async () => {
    const dir = project();
    const { client } = cloudFormation({});
    const resolving = resolveStageOutputs("qa", { projectDir: dir, cloudFormation: client, region: "eu-west-1" });
    await expect(resolving).rejects.toBeInstanceOf(StageNotDeployedError);
    await expect(resolving).rejects.toThrow(
      /Stage "qa" is not deployed.*qa-ferry-Storage.*outputs\.json \(missing or empty\).*CloudFormation eu-west-1.*npx sst deploy --stage qa/,
    );
  });

  it("treats a stack that failed to deploy as not deployed, and a CloudFormation error as a reason", async () => {
    const { client } = cloudFormation({ "qa-ferry-Storage": storage }, "ROLLBACK_COMPLETE");
    await expect(resolveStageOutputs("qa", { projectDir: project(), cloudFormation: client })).rejects.toBeInstanceOf(StageNotDeployedError);
    const denied = new CloudFormationClient({ region: "eu-west-1" });
    interceptCommands(denied, {
      DescribeStacksCommand: () => {
        throw Object.assign(new Error("Could not load credentials from any providers"), { name: "CredentialsProviderError" });
      },
    });
    await expect(resolveStageOutputs("qa", { projectDir: project(), cloudFormation: denied })).rejects.toThrow(
      /CredentialsProviderError: Could not load credentials/,
    );
  });

  it("names a missing output and the stack that should have it", async () => {
    const dir = project({ "dev-ferry-Storage": { TableName: "t" }, "dev-ferry-Backfill": {} });
    await expect(resolveStageOutputs("dev", { projectDir: dir })).rejects.toThrow(StageOutputMissingError);
    await expect(resolveStageOutputs("dev", { projectDir: dir })).rejects.toThrow(/no output ControlTableName on stack dev-ferry-Storage/);
    const ok = project({ "dev-ferry-Storage": storage, "dev-ferry-Backfill": {} });
    const outputs = await resolveStageOutputs("dev", { projectDir: ok, stacks: ["Backfill"] });
    expect(() => requireStateMachineArn(outputs)).toThrow(/no output BackfillStateMachineArn on stack dev-ferry-Backfill.*npx sst deploy --stage dev/);
  });

  it("rejects a bad stage name and an unreadable outputs file", async () => {
    await expect(resolveStageOutputs("dev;rm")).rejects.toBeInstanceOf(InvalidStageNameError);
    await expect(resolveStageOutputs("dev", { projectDir: project("{not json") })).rejects.toBeInstanceOf(StageOutputsFileError);
  });
});
