/** Flags shared by every command that touches a table, and strict number parsing. */
import { UsageError } from "@ferry/core";
import { DEFAULT_TABLE_NAME } from "@ferry/example-workflows";
import { type StageOutputs, type StageStack, resolveStageOutputs } from "@ferry/core/stage/outputs";
import { type Command, InvalidArgumentError, Option } from "commander";

export interface ConnectionFlags {
  endpoint?: string;
  region?: string;
  /** `--table`, or the --stage's table; unset: FERRY_TABLE, else the migration's `table` (see tableFor). */
  table?: string;
  json?: boolean;
}

/**
 * The physical table a command works on: `--table` (or the one --stage filled in), else
 * FERRY_TABLE, else the migration's own `table`. Only a command without a migration (seed,
 * serve, demo) falls back to the example's table.
 */
export function tableFor(flags: { table?: string }, migration?: { table: string }, env: NodeJS.ProcessEnv = process.env): string {
  return flags.table ?? (env.FERRY_TABLE ? tableNameFlag(env.FERRY_TABLE) : undefined) ?? migration?.table ?? DEFAULT_TABLE_NAME;
}

/** True when the table was named (--table, --stage or FERRY_TABLE), not taken from the migration's default. */
export function tableNamed(flags: { table?: string }, env: NodeJS.ProcessEnv = process.env): boolean {
  return flags.table !== undefined || !!env.FERRY_TABLE;
}

/** DynamoDB's rule for table names: 3 to 255 of a-z, A-Z, 0-9, _ - . */
export const TABLE_NAME_PATTERN = /^[a-zA-Z0-9_.-]{3,255}$/;

/** A commander parser for table names: a bad name is a usage error here, not a ValidationException later. */
export function tableNameFlag(value: string): string {
  if (!TABLE_NAME_PATTERN.test(value)) {
    throw new InvalidArgumentError(
      `"${value.length > 60 ? `${value.slice(0, 57)}...` : value}" is not a DynamoDB table name: use 3 to 255 letters, digits, _ - or .`,
    );
  }
  return value;
}

/** A commander parser for free text kept in the migration's history (--actor, --reason): at most `max` characters. */
export function boundedText(max: number) {
  return (value: string): string => {
    if (value.trim() === "") throw new InvalidArgumentError("expected some text, got an empty value");
    if (value.length > max)
      throw new InvalidArgumentError(
        `at most ${max} characters (got ${value.length}): it is kept in the migration's state record, which DynamoDB limits to 400 KB`,
      );
    return value;
  };
}

/** Longest --actor and --reason. */
export const MAX_ACTOR_CHARS = 200;
export const MAX_REASON_CHARS = 2_000;

/** Adds --table, --endpoint, --region and --json. */
export function withConnectionFlags(command: Command): Command {
  return command
    .addOption(new Option("--table <name>", "the physical table (default: FERRY_TABLE, else the migration's `table`)").argParser(tableNameFlag))
    .addOption(new Option("--endpoint <url>", "DynamoDB endpoint (default: AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL, else AWS)"))
    .addOption(new Option("--region <region>", "AWS region (default: AWS_REGION or us-east-1)"))
    .option("--json", "print machine-readable JSON");
}

export function parseInteger(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got "${value}"`);
    }
    return n;
  };
}

export function parseNumber(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a number from ${min} to ${max}, got "${value}"`);
    }
    return n;
  };
}

export interface StageFlags {
  stage?: string;
  /** Filled from the stage's outputs before the action runs (see withStageFlag). */
  stageOutputs?: StageOutputs;
}

/** --stage combined with a flag the stage decides (e.g. --endpoint, a different --table). */
export class StageFlagConflictError extends UsageError {
  constructor(
    readonly stage: string,
    readonly flag: string,
    detail: string,
  ) {
    super(`--stage ${stage} and ${flag} disagree: ${detail}. Drop ${flag}: the stage's outputs say where its resources are.`);
  }
}

/**
 * Adds `--stage <stage>` (after withConnectionFlags): before the action runs, the stage's
 * outputs (.sst/outputs.json, or FERRY_SST_OUTPUTS, else CloudFormation) fill --table,
 * --control-table and --region, and `stageOutputs` carries the rest (state machine ARN...).
 */
export function withStageFlag(command: Command, stacks: StageStack[] = ["Backfill"]): Command {
  return command
    .option(
      "--stage <stage>",
      "a deployed SST stage: table, control table, region and state machine come from its outputs (.sst/outputs.json, else CloudFormation)",
    )
    .hook("preAction", async (_self, action) => {
      const opts = action.opts<StageFlags & ConnectionFlags & { controlTable?: string }>();
      if (!opts.stage) return;
      if (opts.endpoint) throw new StageFlagConflictError(opts.stage, "--endpoint", "a stage is on AWS");
      const outputs = await resolveStageOutputs(opts.stage, {
        stacks,
        ...(opts.region ? { region: opts.region } : {}),
        ...(process.env.FERRY_SST_OUTPUTS ? { outputsFile: process.env.FERRY_SST_OUTPUTS } : {}),
      });
      const explicit = (name: string) => action.getOptionValueSource(name) === "cli";
      if (explicit("table") && opts.table !== outputs.tableName) {
        throw new StageFlagConflictError(opts.stage, "--table", `its table is ${outputs.tableName}, not ${opts.table}`);
      }
      if (opts.controlTable && opts.controlTable !== outputs.controlTable) {
        throw new StageFlagConflictError(opts.stage, "--control-table", `its control table is ${outputs.controlTable}, not ${opts.controlTable}`);
      }
      action.setOptionValue("table", outputs.tableName);
      action.setOptionValue("controlTable", outputs.controlTable);
      action.setOptionValue("region", outputs.region);
      action.setOptionValue("stageOutputs", outputs);
    });
}
