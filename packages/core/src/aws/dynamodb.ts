/**
 * Factory for the DynamoDB clients used across ferry. One place decides endpoint, region,
 * credentials for local engines and marshalling options.
 */
import { DynamoDBClient, type DynamoDBClientConfig } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { type ConnectionOptions, LOCAL_CREDENTIALS, isLocalEndpoint, resolveDynamoEndpoint, resolveRegion } from "./endpoint.ts";

export interface DynamoClients {
  /** Low-level client (attribute-value maps); used for streams images and raw calls. */
  raw: DynamoDBClient;
  /** Document client (plain JS values); what most of ferry uses. */
  doc: DynamoDBDocumentClient;
  /** The endpoint actually used, or undefined for AWS. */
  endpoint: string | undefined;
  region: string;
}

export interface DynamoClientOptions extends ConnectionOptions {
  /** Extra SDK config (e.g. `maxAttempts`); tests use it to inject faults via middleware. */
  config?: Partial<DynamoDBClientConfig>;
}

/** Creates the raw and document clients for a connection. */
export function createDynamoClients(options: DynamoClientOptions = {}): DynamoClients {
  const endpoint = resolveDynamoEndpoint(options.endpoint);
  const region = resolveRegion(options.region);
  const useLocalCredentials = isLocalEndpoint(endpoint) && !process.env.AWS_ACCESS_KEY_ID && !process.env.AWS_PROFILE;
  const raw = new DynamoDBClient({
    region,
    ...(endpoint ? { endpoint } : {}),
    ...(useLocalCredentials ? { credentials: LOCAL_CREDENTIALS } : {}),
    ...options.config,
  });
  const doc = DynamoDBDocumentClient.from(raw, {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
    unmarshallOptions: { wrapNumbers: false },
  });
  return { raw, doc, endpoint, region };
}
