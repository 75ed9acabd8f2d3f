/**
 * Which data table a stage runs on, read at synth time from the stage's configuration
 * (the environment, or `.env.<stage>`, which SST loads): with nothing set, the example
 * table the Storage stack creates; with FERRY_TABLE_NAME or FERRY_TABLE_ARN, a table the
 * stage attaches to and never owns, plus FERRY_TABLE_STREAM_ARN, the stream the dual-write
 * consumers read.
 */
import { FerryError } from "@ferry/core";

/** The stage variables that attach a stage to an existing table. */
export const DATA_TABLE_ENV = {
  name: "FERRY_TABLE_NAME",
  arn: "FERRY_TABLE_ARN",
  streamArn: "FERRY_TABLE_STREAM_ARN",
} as const;

/** The stage creates the example table (nothing configured). */
export interface CreatedTableConfig {
  mode: "create";
}

/** The stage attaches to a table it does not own. */
export interface AttachedTableConfig {
  mode: "attach";
  tableName: string;
  /** Set when FERRY_TABLE_ARN is (a table in another account or region than the stack's); else the stack's own account and region. */
  tableArn?: string;
  streamArn: string;
  /** Region and account the ARNs name (the stream's). */
  region: string;
  account: string;
}

export type DataTableConfig = CreatedTableConfig | AttachedTableConfig;

const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;
const TABLE_ARN = /^arn:(aws[a-z-]*):dynamodb:([a-z0-9-]+):(\d{12}):table\/([A-Za-z0-9_.-]{3,255})$/;
const STREAM_ARN = /^arn:(aws[a-z-]*):dynamodb:([a-z0-9-]+):(\d{12}):table\/([A-Za-z0-9_.-]{3,255})\/stream\/[^/\s]+$/;

/** A stage attaches to a table but does not say where its stream is. */
export class MissingTableStreamArnError extends FerryError {
  constructor(
    readonly stage: string,
    readonly tableName: string,
  ) {
    super(
      `Stage "${stage}" attaches to table "${tableName}" but ${DATA_TABLE_ENV.streamArn} is not set: ferry's dual-write reads the table's stream. ` +
        `Turn on a NEW_AND_OLD_IMAGES stream on the table and set ${DATA_TABLE_ENV.streamArn} in .env.${stage} to its ARN ` +
        `(aws dynamodb describe-table --table-name ${tableName} --query Table.LatestStreamArn).`,
    );
  }
}

/** The stage's table variables are malformed or disagree with each other. */
export class InvalidTableConfigError extends FerryError {
  constructor(
    readonly stage: string,
    readonly variable: string,
    readonly value: string | undefined,
    problem: string,
  ) {
    super(
      `Stage "${stage}": ${variable}${value === undefined ? "" : `="${value}"`} ${problem} Fix it in .env.${stage}, or unset ${DATA_TABLE_ENV.name}, ${DATA_TABLE_ENV.arn} and ${DATA_TABLE_ENV.streamArn} to let the stage create the example table.`,
    );
  }
}

/**
 * The stage's data table: created, or attached (validated, so a typo stops the synth rather
 * than the deploy). `region` is the stage's, when known: a Lambda event source mapping reads
 * only streams of its own region.
 */
export function dataTableConfig(stage: string, env: NodeJS.ProcessEnv = process.env, region?: string): DataTableConfig {
  const name = env[DATA_TABLE_ENV.name] || undefined;
  const arn = env[DATA_TABLE_ENV.arn] || undefined;
  const streamArn = env[DATA_TABLE_ENV.streamArn] || undefined;
  if (!name && !arn) {
    if (streamArn)
      throw new InvalidTableConfigError(
        stage,
        DATA_TABLE_ENV.streamArn,
        streamArn,
        `is set without ${DATA_TABLE_ENV.name} or ${DATA_TABLE_ENV.arn}: name the table too.`,
      );
    return { mode: "create" };
  }
  if (name && !TABLE_NAME.test(name)) {
    throw new InvalidTableConfigError(stage, DATA_TABLE_ENV.name, name, "is not a DynamoDB table name (3 to 255 of A-Z a-z 0-9 _ . -).");
  }
  const arnParts = arn ? TABLE_ARN.exec(arn) : null;
  if (arn && !arnParts) {
    throw new InvalidTableConfigError(stage, DATA_TABLE_ENV.arn, arn, "is not a DynamoDB table ARN (arn:aws:dynamodb:<region>:<account>:table/<name>).");
  }
  const tableName = name ?? arnParts![4]!;
  if (name && arnParts && arnParts[4] !== name) {
    throw new InvalidTableConfigError(stage, DATA_TABLE_ENV.arn, arn, `names table "${arnParts[4]}" but ${DATA_TABLE_ENV.name} is "${name}": set one of them.`);
  }
  if (!streamArn) throw new MissingTableStreamArnError(stage, tableName);
  const streamParts = STREAM_ARN.exec(streamArn);
  if (!streamParts) {
    throw new InvalidTableConfigError(
      stage,
      DATA_TABLE_ENV.streamArn,
      streamArn,
      "is not a DynamoDB stream ARN (arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>).",
    );
  }
  if (streamParts[4] !== tableName) {
    throw new InvalidTableConfigError(stage, DATA_TABLE_ENV.streamArn, streamArn, `is the stream of table "${streamParts[4]}", not of "${tableName}".`);
  }
  if (arnParts && (arnParts[2] !== streamParts[2] || arnParts[3] !== streamParts[3])) {
    throw new InvalidTableConfigError(
      stage,
      DATA_TABLE_ENV.streamArn,
      streamArn,
      `is in ${streamParts[2]}/${streamParts[3]} but ${DATA_TABLE_ENV.arn} is in ${arnParts[2]}/${arnParts[3]}.`,
    );
  }
  if (region && region !== streamParts[2]) {
    throw new InvalidTableConfigError(
      stage,
      DATA_TABLE_ENV.streamArn,
      streamArn,
      `is in region ${streamParts[2]} but the stage deploys to ${region}: deploy the stage to ${streamParts[2]} (sst deploy --region ${streamParts[2]}).`,
    );
  }
  return { mode: "attach", tableName, ...(arn ? { tableArn: arn } : {}), streamArn, region: streamParts[2]!, account: streamParts[3]! };
}
