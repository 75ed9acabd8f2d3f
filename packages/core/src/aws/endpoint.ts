/**
 * Endpoint and region resolution shared by every AWS client ferry creates, so that the
 * same command works against DynamoDB Local and against AWS.
 */

/** Where a client should connect. All fields optional: AWS defaults apply. */
export interface ConnectionOptions {
  /** Explicit endpoint (`--endpoint`); wins over the environment. */
  endpoint?: string;
  /** AWS region; defaults to AWS_REGION, AWS_DEFAULT_REGION, then us-east-1. */
  region?: string;
}

export const DEFAULT_REGION = "us-east-1";

/**
 * The DynamoDB endpoint to use: `--endpoint`, else `AWS_ENDPOINT_URL_DYNAMODB`, else
 * `AWS_ENDPOINT_URL`, else undefined (the SDK's regional AWS endpoint).
 */
export function resolveDynamoEndpoint(
  explicit?: string,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  return explicit || env.AWS_ENDPOINT_URL_DYNAMODB || env.AWS_ENDPOINT_URL || undefined;
}

export function resolveRegion(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return explicit || env.AWS_REGION || env.AWS_DEFAULT_REGION || DEFAULT_REGION;
}

/** True for endpoints on this machine, where dummy credentials are fine. */
export function isLocalEndpoint(endpoint: string | undefined): boolean {
  if (!endpoint) return false;
  try {
    const { hostname } = new URL(endpoint);
    return hostname === "localhost" || hostname === "127.0.0.1" || hostname === "::1" || hostname === "[::1]";
  } catch {
    return false;
  }
}

/** Credentials DynamoDB Local accepts; only used when no real ones are configured. */
export const LOCAL_CREDENTIALS = { accessKeyId: "ferrylocal", secretAccessKey: "ferrylocal" } as const;
