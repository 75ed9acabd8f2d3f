/**
 * Where a deployed stage's resources are, so `--stage <stage>` can replace --table,
 * --control-table and --region: the SST stack outputs (names fixed by the stacks: Storage
 * `TableName`/`TableArn`/`ControlTableName`/`EventBusName`/`EventBusArn`, Backfill `BackfillStateMachineArn`, Api
 * `ApiUrl`). They come from `.sst/outputs.json` when it holds the stage (SST v2 writes it
 * after `sst deploy` and `sst dev`: `{ "<stage>-ferry-<Stack>": { "<Output>": "value" } }`,
 * for the stage it last deployed), else from CloudFormation DescribeStacks of
 * `<stage>-ferry-<Stack>` (SST v2's stack names).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { CloudFormationClient } from "@aws-sdk/client-cloudformation";
import { resolveRegion } from "../aws/endpoint.ts";
import { UsageError } from "../errors.ts";

/** The SST app name (sst.config.ts `name`): the middle of every stack name. */
export const FERRY_APP_NAME = "ferry";

/** Each stack's outputs that ferry reads. */
export const STAGE_OUTPUTS = {
  Storage: ["TableName", "TableArn", "ControlTableName", "EventBusName", "EventBusArn"],
  Backfill: ["BackfillStateMachineArn"],
  Api: ["ApiUrl", "JwtIssuer", "JwtAudience"],
} as const;

export type StageStack = keyof typeof STAGE_OUTPUTS;

/** `<stage>-ferry-<Stack>`, the CloudFormation stack name SST v2 deploys. */
export function stageStackName(stage: string, stack: StageStack | string): string {
  return `${stage}-${FERRY_APP_NAME}-${stack}`;
}

/** A stage's resources, as its stacks output them. */
export interface StageOutputs {
  stage: string;
  /** Region of the stage's resources (from the table's ARN, else --region / AWS_REGION). */
  region: string;
  tableName: string;
  controlTable: string;
  tableArn?: string;
  stateMachineArn?: string;
  apiUrl?: string;
  /** The bus step events go to (absent on stages deployed before it existed). */
  eventBusName?: string;
  eventBusArn?: string;
  /** Every output found, per stack (Storage, Backfill, Api...). */
  stacks: Partial<Record<StageStack, Record<string, string>>>;
  /** Where each stack's outputs came from: the outputs file's path, or "CloudFormation <region>". */
  sources: Partial<Record<StageStack, string>>;
}

export interface StageOutputsOptions {
  /** The SST project folder (default: the current directory). */
  projectDir?: string;
  /** The outputs file (default: <projectDir>/.sst/outputs.json). */
  outputsFile?: string;
  /** Region to ask CloudFormation in (default: AWS_REGION, else us-east-1). */
  region?: string;
  /** Stacks to read besides Storage (default none); optional stacks that are missing are left out. */
  stacks?: StageStack[];
  /** CloudFormation client (tests inject one); created on demand otherwise. */
  cloudFormation?: CloudFormationClient;
  env?: NodeJS.ProcessEnv;
}

export class InvalidStageNameError extends UsageError {
  constructor(readonly stage: string) {
    super(`"${stage}" is not a stage name: use letters, digits and hyphens, starting with a letter (as \`sst deploy --stage\` does).`);
  }
}

/** The stage's Storage stack is neither in the outputs file nor in CloudFormation. */
export class StageNotDeployedError extends UsageError {
  constructor(
    readonly stage: string,
    readonly looked: string[],
  ) {
    super(
      `Stage "${stage}" is not deployed, or ferry cannot see it: no stack ${stageStackName(stage, "Storage")} in ${looked.join("; nor in ")}. ` +
        `Deploy it with \`npx sst deploy --stage ${stage}\` (which writes .sst/outputs.json), or pass --region with the region it is in ` +
        "and make AWS credentials available.",
    );
  }
}

/** The stack is there but lacks an output ferry needs (an older deploy). */
export class StageOutputMissingError extends UsageError {
  constructor(
    readonly stage: string,
    readonly stackId: StageStack,
    readonly output: string,
    readonly source: string | undefined,
  ) {
    super(
      `Stage "${stage}" has no output ${output} on stack ${stageStackName(stage, stackId)}${source ? ` (read from ${source})` : " (stack not found)"}. ` +
        `Deploy the current stacks with \`npx sst deploy --stage ${stage}\` (stacks/${stackId}.ts outputs it).`,
    );
  }
}

export class StageOutputsFileError extends UsageError {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`Cannot read the SST outputs file ${file}: ${reason}. Delete it and run \`npx sst deploy --stage <stage>\` again to rewrite it.`);
  }
}

const STAGE_NAME = /^[A-Za-z][A-Za-z0-9-]*$/;

/** Reads the outputs file; undefined when it does not exist. */
export function readOutputsFile(file: string): Record<string, Record<string, string>> | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new StageOutputsFileError(file, (err as Error).message);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new StageOutputsFileError(file, `not JSON (${(err as Error).message})`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new StageOutputsFileError(file, "expected an object keyed by stack name");
  return parsed as Record<string, Record<string, string>>;
}

/** One stack's outputs from CloudFormation; undefined if the stack does not exist (or failed to deploy). */
async function describeStackOutputs(client: CloudFormationClient, stackName: string): Promise<Record<string, string> | undefined> {
  const { DescribeStacksCommand } = await import("@aws-sdk/client-cloudformation");
  try {
    const out = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = out.Stacks?.[0];
    if (!stack || /(_FAILED|ROLLBACK_COMPLETE|DELETE_COMPLETE|DELETE_IN_PROGRESS)$/.test(stack.StackStatus ?? "")) return undefined;
    return Object.fromEntries((stack.Outputs ?? []).map((o) => [o.OutputKey ?? "", o.OutputValue ?? ""]));
  } catch (err) {
    // "Stack with id X does not exist" is a ValidationError.
    if (err instanceof Error && err.name === "ValidationError" && /does not exist/.test(err.message)) return undefined;
    throw err;
  }
}

/** The region in an ARN (`arn:aws:<service>:<region>:...`), if any. */
export function arnRegion(arn: string | undefined): string | undefined {
  const region = arn?.split(":")[3];
  return region ? region : undefined;
}

/**
 * Resolves a stage's outputs: each stack from the outputs file when it holds it, else from
 * CloudFormation. Throws StageNotDeployedError when the Storage stack is nowhere, and
 * StageOutputMissingError when it lacks TableName or ControlTableName.
 */
export async function resolveStageOutputs(stage: string, options: StageOutputsOptions = {}): Promise<StageOutputs> {
  if (!STAGE_NAME.test(stage)) throw new InvalidStageNameError(stage);
  const file = options.outputsFile ?? join(options.projectDir ?? process.cwd(), ".sst", "outputs.json");
  const fromFile = readOutputsFile(file) ?? {};
  const askRegion = resolveRegion(options.region, options.env);
  let cloudFormation = options.cloudFormation;
  const looked = [fileDescription(file, fromFile)];
  const stacks: StageOutputs["stacks"] = {};
  const sources: StageOutputs["sources"] = {};
  for (const stack of ["Storage", ...(options.stacks ?? []).filter((s) => s !== "Storage")] as StageStack[]) {
    const name = stageStackName(stage, stack);
    const inFile = fromFile[name];
    if (inFile && typeof inFile === "object") {
      stacks[stack] = inFile;
      sources[stack] = file;
      continue;
    }
    if (!cloudFormation) {
      const { CloudFormationClient } = await import("@aws-sdk/client-cloudformation");
      cloudFormation = new CloudFormationClient({ region: askRegion });
    }
    let found: Record<string, string> | undefined;
    try {
      found = await describeStackOutputs(cloudFormation, name);
    } catch (err) {
      if (stack !== "Storage") continue; // optional stacks: their commands say what is missing
      looked.push(`CloudFormation ${askRegion} (${err instanceof Error ? `${err.name}: ${err.message}` : String(err)})`);
      throw new StageNotDeployedError(stage, looked);
    }
    if (found) {
      stacks[stack] = found;
      sources[stack] = `CloudFormation ${askRegion}`;
    } else if (stack === "Storage") {
      looked.push(`CloudFormation ${askRegion}`);
      throw new StageNotDeployedError(stage, looked);
    }
  }
  const storage = stacks.Storage ?? {};
  const need = (output: string) => {
    const value = storage[output];
    if (!value) throw new StageOutputMissingError(stage, "Storage", output, sources.Storage);
    return value;
  };
  const tableName = need("TableName");
  const controlTable = need("ControlTableName");
  const tableArn = storage.TableArn;
  const stateMachineArn = stacks.Backfill?.BackfillStateMachineArn;
  const apiUrl = stacks.Api?.ApiUrl;
  const { EventBusName: eventBusName, EventBusArn: eventBusArn } = storage;
  return {
    stage,
    region: options.region ?? arnRegion(tableArn) ?? arnRegion(stateMachineArn) ?? askRegion,
    tableName,
    controlTable,
    ...(tableArn ? { tableArn } : {}),
    ...(stateMachineArn ? { stateMachineArn } : {}),
    ...(apiUrl ? { apiUrl } : {}),
    ...(eventBusName ? { eventBusName } : {}),
    ...(eventBusArn ? { eventBusArn } : {}),
    stacks,
    sources,
  };
}

function fileDescription(file: string, contents: Record<string, unknown>): string {
  const keys = Object.keys(contents);
  return keys.length === 0 ? `${file} (missing or empty)` : `${file} (has ${keys.join(", ")})`;
}

/** The state machine's ARN, or a StageOutputMissingError saying how to deploy it. */
export function requireStateMachineArn(outputs: StageOutputs): string {
  if (!outputs.stateMachineArn) throw new StageOutputMissingError(outputs.stage, "Backfill", "BackfillStateMachineArn", outputs.sources.Backfill);
  return outputs.stateMachineArn;
}
