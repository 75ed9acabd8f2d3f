/**
 * Lambda entry of the example service's API behind API Gateway HTTP API. The JWT authorizer
 * has verified the token; background work (shadow reads, counter flushes) is drained before
 * returning because a frozen Lambda would lose it. No flush timer here (a frozen instance
 * runs none): the invocation that passes the interval flushes, and a v1 answer waits until
 * the instance's server record declares it, so a frozen or recycled instance cannot hide one
 * from the remove guard (README "Usage counts and the remove guard").
 * Env: FERRY_TABLE, FERRY_CONTROL_TABLE, FERRY_TOKEN_SECRET (nextToken HMAC key), and
 * FERRY_TARGET_TABLES, the `table` migrations' targets that every handler gets (migration 0004's
 * copy: else FERRY_TARGET_TABLE, else WorkflowsByContext).
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { createDynamoClients, targetTableName } from "@ferry/core";
import { handle } from "hono/aws-lambda";
import { DEFAULT_BY_CONTEXT_TABLE_NAME, DEFAULT_ROUTE_MIGRATIONS, authorizerTenant, buildApiDeps, createApiApp } from "@ferry/example-workflows";

const logger = new Logger({ serviceName: "ferry-api" });
const required = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set on the API function (the Api stack sets it).`);
  return value;
};

const deps = buildApiDeps({
  doc: createDynamoClients().doc,
  tableName: required("FERRY_TABLE"),
  controlTable: required("FERRY_CONTROL_TABLE"),
  // The same resolution as the engine's for the migration's target (one setting for both).
  byContextTable: targetTableName({ id: DEFAULT_ROUTE_MIGRATIONS.byContextTable, target: { table: DEFAULT_BY_CONTEXT_TABLE_NAME } }) as string,
  tenant: authorizerTenant(),
  tokenSecret: required("FERRY_TOKEN_SECRET"),
  logError: (err) => logger.error("unhandled API error", err as Error),
});
const inner = handle(createApiApp(deps));

export const handler: typeof inner = async (event, context) => {
  const response = await inner(event, context);
  await deps.background.drain();
  return response;
};
