/**
 * Endpoint and region resolution shared by every AWS client ferry creates, so that the
 * same command works against DynamoDB Local and against AWS.
 */

import { UsageError } from "../errors.ts";

/** Where a client should connect. All fields optional: AWS defaults apply. */
export interface ConnectionOptions {
  /** Explicit endpoint (`--endpoint`); wins over the environment. */
  endpoint?: string;
  /** AWS region; defaults to AWS_REGION, AWS_DEFAULT_REGION, then us-east-1. */
  region?: string;
}

export const DEFAULT_REGION = "us-east-1";

/** An endpoint that is not an http(s) URL with a host; `source` is the flag or variable it came from. */
export class InvalidEndpointError extends UsageError {
  constructor(
    readonly endpoint: string,
    readonly source: string,
  ) {
    const hint = /^[\w.-]+:\d+$/.test(endpoint) ? ` (did you mean http://${endpoint}?)` : "";
    super(`${source} "${endpoint}" is not an http:// or https:// URL with a host${hint}; e.g. http://127.0.0.1:8000 for DynamoDB Local.`);
  }
}

/** Throws InvalidEndpointError unless `endpoint` is an http(s) URL with a host. */
export function validateEndpoint(endpoint: string, source = "--endpoint"): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new InvalidEndpointError(endpoint, source);
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || !url.hostname) throw new InvalidEndpointError(endpoint, source);
  return endpoint;
}

/**
 * The DynamoDB endpoint to use: `--endpoint`, else `AWS_ENDPOINT_URL_DYNAMODB`, else
 * `AWS_ENDPOINT_URL`, else undefined (the SDK's regional AWS endpoint). Validated here, the
 * one place every client's endpoint passes, so a bad one fails as a usage error naming
 * where it came from instead of as a credentials or URL error deep in the SDK.
 */
export function resolveDynamoEndpoint(explicit?: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const [source, value] of [
    ["--endpoint", explicit],
    ["AWS_ENDPOINT_URL_DYNAMODB", env.AWS_ENDPOINT_URL_DYNAMODB],
    ["AWS_ENDPOINT_URL", env.AWS_ENDPOINT_URL],
  ] as const) {
    if (value) return validateEndpoint(value, source);
  }
  return undefined;
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
