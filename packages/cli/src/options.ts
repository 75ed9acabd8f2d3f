/** Flags shared by every command that touches a table, and strict number parsing. */
import { DEFAULT_TABLE_NAME } from "@ferry/core";
import { type Command, InvalidArgumentError, Option } from "commander";

export interface ConnectionFlags {
  endpoint?: string;
  region?: string;
  table: string;
  json?: boolean;
}

/** Adds --table, --endpoint, --region and --json. */
export function withConnectionFlags(command: Command): Command {
  return command
    .addOption(new Option("--table <name>", "table name").default(process.env.FERRY_TABLE ?? DEFAULT_TABLE_NAME))
    .addOption(
      new Option("--endpoint <url>", "DynamoDB endpoint (default: AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL, else AWS)"),
    )
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
