/**
 * Api: the example service's HTTP API (API Gateway v2) in front of the one Hono app
 * (packages/functions/src/api.handler) that `ferry serve` runs locally. A JWT authorizer
 * verifies every request; the handler reads the tenant from the verified claims. Routes are
 * greedy proxies, so new endpoints (and a new migration's routes) need no stack edit.
 */
import { FerryError } from "@ferry/core";
import { DEFAULT_ROUTE_MIGRATIONS } from "@ferry/example-workflows";
import * as iam from "aws-cdk-lib/aws-iam";
import * as secrets from "aws-cdk-lib/aws-secretsmanager";
import { NagSuppressions } from "cdk-nag";
import { Api as SstApi, Function as SstFunction, type StackContext, use } from "sst/constructs";
import { discoverMigrations } from "./migrations.ts";
import { suppressFunctionBaseline } from "./nag.ts";
import { Storage, isDevStage } from "./Storage.ts";
import { targetTablesEnv } from "./target-table.ts";

/** Audience the authorizer requires when FERRY_JWT_AUDIENCE is not set. */
export const DEFAULT_JWT_AUDIENCE = "ferry-api";
/**
 * Issuer of dev stages when FERRY_JWT_ISSUER is not set: a placeholder that rejects every
 * token (.invalid never resolves), so a personal stage is never open by accident.
 */
export const DEV_JWT_ISSUER = "https://issuer.invalid/ferry";

/** The HTTP API's routes, all on the Hono handler: reads and writes (the app answers 405 for a method a path does not take). */
export const API_ROUTES = ["ANY /v1/{proxy+}", "ANY /v2/{proxy+}", "ANY /workflows", "ANY /workflows/{proxy+}"] as const;

/** A non-dev stage is deployed without its identity provider configured. */
export class MissingJwtIssuerError extends FerryError {
  constructor(readonly stage: string) {
    super(
      `Stage "${stage}" needs the JWT issuer of your identity provider: set FERRY_JWT_ISSUER (and FERRY_JWT_AUDIENCE, default "${DEFAULT_JWT_AUDIENCE}") ` +
        `in the environment or in .env.${stage} (SST loads it), e.g. FERRY_JWT_ISSUER=https://your-tenant.auth0.com/.`,
    );
  }
}

/** The authorizer's issuer and audience for a stage, from FERRY_JWT_ISSUER / FERRY_JWT_AUDIENCE. */
export function jwtConfig(stage: string, env: NodeJS.ProcessEnv = process.env): { issuer: string; audience: string } {
  const issuer = env.FERRY_JWT_ISSUER || (isDevStage(stage) ? DEV_JWT_ISSUER : undefined);
  if (!issuer) throw new MissingJwtIssuerError(stage);
  return { issuer, audience: env.FERRY_JWT_AUDIENCE || DEFAULT_JWT_AUDIENCE };
}

/**
 * What the API does to the workflows: reads both models; writes the old model while v1 is
 * served and, after remove, the task records (conditional single writes and transactions);
 * and the table's key schema (DescribeTable: the engine reads it, whatever the key names).
 */
export const API_TABLE_ACTIONS = [
  "dynamodb:Query",
  "dynamodb:GetItem",
  "dynamodb:BatchGetItem",
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
  "dynamodb:ConditionCheckItem",
  "dynamodb:DescribeTable",
];
/** Release configuration (read), usage counters and shadow statistics (write). */
export const API_CONTROL_ACTIONS = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"];

export function Api({ stack, app }: StackContext) {
  const { table, control, targets, indexArns } = use(Storage);
  // v2 of GET /workflows/by-context/{context} reads migration 0004's copy (declared or imported by stacks/target-table.ts).
  const target = targets.find((t) => t.migrationId === DEFAULT_ROUTE_MIGRATIONS.byContextTable);
  const { issuer, audience } = jwtConfig(app.stage);
  const migrations = discoverMigrations();

  // nextToken's HMAC key: generated once per stage, resolved by CloudFormation at deploy time
  // (the template holds a {{resolve:secretsmanager}} reference, not the value).
  const tokenSecret = new secrets.Secret(stack, "ApiTokenSecret", {
    description: "HMAC key of the API's nextToken (pagination) values",
    generateSecretString: { passwordLength: 48, excludePunctuation: true },
  });
  const handler = new SstFunction(stack, "ApiHandler", {
    handler: "packages/functions/src/api.handler",
    description: "ferry example service API (v1, v2, unversioned)",
    timeout: 29,
    memorySize: 512,
    environment: {
      FERRY_TABLE: table.tableName,
      FERRY_CONTROL_TABLE: control.tableName,
      // The migration whose v2 the API serves first; the API resolves each route family's own.
      FERRY_MIGRATION: migrations[0]?.id ?? "",
      FERRY_TOKEN_SECRET: tokenSecret.secretValue.unsafeUnwrap(),
      // Where each `table` migration's copy lives, as every handler gets it (v2 of by-context reads 0004's).
      ...targetTablesEnv(targets),
    },
  });
  handler.addToRolePolicy(new iam.PolicyStatement({ actions: API_TABLE_ACTIONS, resources: [table.tableArn] }));
  // v2 reads: the byStatus GSI (0003) and the copy's table (0004).
  if (indexArns.length) handler.addToRolePolicy(new iam.PolicyStatement({ actions: ["dynamodb:Query"], resources: indexArns }));
  if (target) handler.addToRolePolicy(new iam.PolicyStatement({ actions: ["dynamodb:Query"], resources: [target.tableArn] }));
  handler.addToRolePolicy(new iam.PolicyStatement({ actions: API_CONTROL_ACTIONS, resources: [control.tableArn] }));

  const api = new SstApi(stack, "Api", {
    authorizers: { jwt: { type: "jwt", jwt: { issuer, audience: [audience] } } },
    defaults: { authorizer: "jwt" },
    accessLog: { retention: "one_month" },
    // Server-to-server by default: no browser origin may call it until a stage opts in.
    cors: false,
    routes: Object.fromEntries(API_ROUTES.map((route) => [route, { type: "function" as const, function: handler }])),
  });

  suppressFunctionBaseline(handler);
  NagSuppressions.addResourceSuppressions(tokenSecret, [
    {
      id: "AwsSolutions-SMG4",
      reason:
        "The nextToken HMAC key signs short-lived pagination cursors only; rotating it just invalidates cursors in flight. The Lambda reads it from its environment at cold start, so rotation means a redeploy, which is the documented procedure.",
    },
  ]);
  stack.addOutputs({ ApiUrl: api.url, JwtIssuer: issuer, JwtAudience: audience });
  return { api, handler };
}
