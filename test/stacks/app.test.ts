// The whole app as sst.config.ts defines it, synthesized once (stage prod): the Stream and
// Api stacks, IAM scoping across every stack, cdk-nag, and the bundled handler itself.
import { WORKFLOWS_TABLE } from "@ferry/example-workflows";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { type Migration, OWNER_ATTRIBUTE, deriveRecords, ensureControlTable, keyId } from "@ferry/core";
import { listMigrationIds } from "@ferry/core/definition/load";
import { fromLambdaImage } from "@ferry/core/dualwrite/plan";
import { streamSettings } from "@ferry/core/dualwrite/stream-settings";
import type { DynamoDBStreamEvent } from "aws-lambda";
import { Match, type Template } from "aws-cdk-lib/assertions";
import { getStack } from "sst/constructs";
import { beforeAll, describe, expect, it } from "vitest";
import { MIGRATIONS } from "../../migrations/index.ts";
import { API_CONTROL_ACTIONS, API_ROUTES, API_TABLE_ACTIONS, Api } from "../../stacks/Api.ts";
import { Backfill } from "../../stacks/Backfill.ts";
import { migrationSuffix } from "../../stacks/migrations.ts";
import { Storage } from "../../stacks/Storage.ts";
import { DUAL_WRITE_CONTROL_ACTIONS, DUAL_WRITE_TABLE_ACTIONS, STREAM_READ_ACTIONS, Stream } from "../../stacks/Stream.ts";
import { endpoint, freshPlainTable, scanAll, testClients } from "../support/dynamo.ts";
import { type SynthesizedApp, synthProject } from "../support/synth.ts";

const ISSUER = "https://login.example.com/";
const AUDIENCE = "workflows-api";
const MIGRATION_IDS = listMigrationIds(join(import.meta.dirname, "../../migrations"));
const STACKS = { Storage, Stream, Backfill, Api };

let synthesized: SynthesizedApp;
let synthMs = 0;
beforeAll(async () => {
  const started = Date.now();
  synthesized = await synthProject("prod", { FERRY_JWT_ISSUER: ISSUER, FERRY_JWT_AUDIENCE: AUDIENCE });
  synthMs = Date.now() - started;
  console.info(`stack tests: full app synthesized (esbuild bundles included) in ${synthMs} ms`);
}, 180_000);

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };
const actions = (s: Statement) => [s.Action].flat();
function statements(template: Template, policyLogicalIdPrefix = ""): Statement[] {
  return Object.entries(template.findResources("AWS::IAM::Policy"))
    .filter(([id]) => id.startsWith(policyLogicalIdPrefix))
    .flatMap(([, p]) => (p.Properties as { PolicyDocument: { Statement: Statement[] } }).PolicyDocument.Statement);
}
/** The Storage export a cross-stack reference resolves to, e.g. the table's StreamArn (vitest matcher). */
const importOf = (attribute: RegExp) => ({ "Fn::ImportValue": expect.stringMatching(attribute) });
/** The same for CDK's template assertions. */
const cdkImportOf = (attribute: RegExp) => ({ "Fn::ImportValue": Match.stringLikeRegexp(attribute.source) });
const getAttArn = (logicalIdPrefix: string) => ({ "Fn::GetAtt": [expect.stringMatching(new RegExp(`^${logicalIdPrefix}`)), "Arn"] });

describe("Stream stack", () => {
  const stream = () => synthesized.template(Stream);

  it("has one dual-write consumer per migration file, named by FERRY_MIGRATION", () => {
    const fns = Object.values(stream().findResources("AWS::Lambda::Function", { Properties: { Handler: "packages/functions/src/dual-write.handler" } }));
    const env = fns.map((f) => (f.Properties as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables);
    expect(env.map((v) => v.FERRY_MIGRATION).sort()).toEqual(MIGRATION_IDS);
    for (const v of env) expect(Object.keys(v)).toEqual(expect.arrayContaining(["FERRY_TABLE", "FERRY_CONTROL_TABLE"]));
    expect(MIGRATION_IDS.length).toBeGreaterThanOrEqual(2);
  });

  it("maps every setting of the one source of truth (streamSettings) onto each event source mapping", () => {
    const pascal = (k: string) => k.charAt(0).toUpperCase() + k.slice(1);
    const cfn = (v: unknown): unknown =>
      Array.isArray(v) ? v.map(cfn) : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [pascal(k), cfn(x)])) : v;
    for (const id of MIGRATION_IDS) {
      const settings = streamSettings(MIGRATIONS[id] as Migration);
      const mapping = stream().findResources("AWS::Lambda::EventSourceMapping")[`DualWriteMapping${migrationSuffix(id)}`]!.Properties as Record<
        string,
        unknown
      >;
      const expected = Object.fromEntries(Object.entries(settings).map(([k, v]) => [pascal(k), cfn(v)]));
      expect(mapping).toMatchObject(expected);
      // Nothing else is set: a setting the local mapping does not mirror would fail here.
      expect(Object.keys(mapping).sort()).toEqual([...Object.keys(expected), "DestinationConfig", "EventSourceArn", "FunctionName", "Tags"].sort());
      expect(settings).toMatchObject({
        bisectBatchOnFunctionError: true,
        functionResponseTypes: ["ReportBatchItemFailures"],
        startingPosition: "TRIM_HORIZON",
      });
      expect(mapping.EventSourceArn).toEqual(importOf(/StreamArn/));
      expect(mapping.DestinationConfig).toEqual({ OnFailure: { Destination: getAttArn(`DeadLetters${migrationSuffix(id)}`) } });
      expect(JSON.parse(String((mapping.FilterCriteria as { Filters: { Pattern: string }[] }).Filters[0]!.Pattern))).toEqual({
        dynamodb: { Keys: { SK: { S: [{ prefix: (MIGRATIONS[id] as Migration).source.skPrefix }] } } },
      });
    }
  });

  it("dead-letters to an encrypted, TLS-only SQS queue per migration, with its URL as an output", () => {
    const queues = stream().findResources("AWS::SQS::Queue");
    expect(Object.keys(queues)).toHaveLength(MIGRATION_IDS.length);
    for (const q of Object.values(queues)) expect(q.Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
    stream().resourcePropertiesCountIs(
      "AWS::SQS::QueuePolicy",
      { PolicyDocument: { Statement: [Match.objectLike({ Effect: "Deny", Action: "sqs:*", Condition: { Bool: { "aws:SecureTransport": "false" } } })] } },
      MIGRATION_IDS.length,
    );
    for (const id of MIGRATION_IDS) stream().hasOutput(`DeadLetterQueueUrl${migrationSuffix(id)}`, {});
  });

  it("scopes the consumer's IAM to the stream, the table and the control table", () => {
    for (const id of MIGRATION_IDS) {
      const own = statements(stream(), `DualWrite${migrationSuffix(id)}`);
      expect(own).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ Action: STREAM_READ_ACTIONS, Resource: importOf(/StreamArn/) }),
          expect.objectContaining({ Action: DUAL_WRITE_TABLE_ACTIONS, Resource: importOf(/WorkflowsTable\w+Arn/) }),
          expect.objectContaining({ Action: DUAL_WRITE_CONTROL_ACTIONS, Resource: importOf(/ControlTable\w+Arn/) }),
          expect.objectContaining({ Action: expect.arrayContaining(["sqs:SendMessage"]), Resource: getAttArn(`DeadLetters${migrationSuffix(id)}`) }),
        ]),
      );
      expect(own.flatMap(actions).filter((a) => /dynamodb:(Scan|DeleteTable|UpdateTable)/.test(a))).toEqual([]);
    }
  });
});

describe("Api stack", () => {
  const api = () => synthesized.template(Api);

  it("routes v1, v2 and the unversioned paths to the one Hono handler, each behind the JWT authorizer", () => {
    const routes = Object.values(api().findResources("AWS::ApiGatewayV2::Route")).map((r) => r.Properties as Record<string, unknown>);
    expect(routes.map((r) => r.RouteKey).sort()).toEqual([...API_ROUTES].sort());
    for (const r of routes) expect(r).toMatchObject({ AuthorizationType: "JWT", AuthorizerId: { Ref: expect.stringMatching(/^Apijwt/) } });
    const targets = Object.values(api().findResources("AWS::ApiGatewayV2::Integration")).map((i) =>
      JSON.stringify((i.Properties as { IntegrationUri: unknown }).IntegrationUri),
    );
    expect(new Set(targets).size).toBe(1);
    api().resourcePropertiesCountIs("AWS::Lambda::Function", { Handler: "packages/functions/src/api.handler" }, 1);
  });

  it("verifies tokens with the stage's issuer and audience, and publishes them as outputs", () => {
    api().hasResourceProperties("AWS::ApiGatewayV2::Authorizer", {
      AuthorizerType: "JWT",
      IdentitySource: ["$request.header.Authorization"],
      JwtConfiguration: { Issuer: ISSUER, Audience: [AUDIENCE] },
    });
    api().hasOutput("ApiUrl", {});
    api().hasOutput("JwtIssuer", { Value: ISSUER });
    api().hasOutput("JwtAudience", { Value: AUDIENCE });
  });

  it("logs every request and passes the handler its tables, migration and token secret", () => {
    api().hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      AccessLogSettings: { DestinationArn: { "Fn::GetAtt": [Match.stringLikeRegexp("ApiLogGroup"), "Arn"] } },
    });
    api().hasResourceProperties("AWS::Lambda::Function", {
      Handler: "packages/functions/src/api.handler",
      Environment: {
        Variables: Match.objectLike({
          FERRY_TABLE: cdkImportOf(/WorkflowsTable/),
          FERRY_CONTROL_TABLE: cdkImportOf(/ControlTable/),
          FERRY_MIGRATION: MIGRATION_IDS[0],
          FERRY_TOKEN_SECRET: { "Fn::Join": ["", Match.arrayWith(["{{resolve:secretsmanager:"])] },
        }),
      },
    });
    // The copy's table by migration id, the one setting the engine's handlers read too (v2 of by-context reads 0004's).
    const fn = Object.values(api().findResources("AWS::Lambda::Function", { Properties: { Handler: "packages/functions/src/api.handler" } }))[0];
    const targets = (fn!.Properties as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables.FERRY_TARGET_TABLES;
    expect(JSON.stringify(targets)).toContain("0004_workflows-by-context-table");
  });

  it("reads both models and writes the workflows item by item (no Scan, no batch writes); writes the control table", () => {
    const own = statements(api(), "ApiHandler");
    expect(own).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Action: API_TABLE_ACTIONS, Resource: importOf(/WorkflowsTable\w+Arn/) }),
        expect.objectContaining({ Action: API_CONTROL_ACTIONS, Resource: importOf(/ControlTable\w+Arn/) }),
      ]),
    );
    // v2 of by-status Queries exactly the example's byStatus GSI (migration 0003), nothing else of the table's indexes.
    const onIndex = own.filter((s) => JSON.stringify(s.Resource).includes("/index/"));
    expect(onIndex.flatMap(actions)).toEqual(["dynamodb:Query"]);
    expect(JSON.stringify(onIndex[0]?.Resource)).toContain("/index/byStatus");
    const onTable = own
      .filter((s) => JSON.stringify(s.Resource).includes("WorkflowsTable") && !JSON.stringify(s.Resource).includes("/index/"))
      .flatMap(actions);
    // DescribeTable: the engine reads the table's key schema (any table, any key names).
    expect(onTable.sort()).toEqual([
      "dynamodb:BatchGetItem",
      "dynamodb:ConditionCheckItem",
      "dynamodb:DeleteItem",
      "dynamodb:DescribeTable",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
    ]);
  });
});

describe("every stack", () => {
  const each = () => Object.entries(STACKS).map(([name, stack]) => ({ name, template: synthesized.template(stack), messages: synthesized.messages(stack) }));

  it("grants `*` only for actions AWS offers no resource scope for", () => {
    const unscopable = new Set([
      "xray:PutTraceSegments",
      "xray:PutTelemetryRecords",
      "xray:GetSamplingRules",
      "xray:GetSamplingTargets",
      "dynamodb:ListStreams",
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
    ]);
    const wildcard = each().flatMap(({ name, template }) =>
      statements(template)
        .filter((s) => JSON.stringify(s.Resource).match(/"\*"|:\*"/))
        .flatMap((s) => actions(s).map((a) => `${name} ${a} ${JSON.stringify(s.Resource)}`)),
    );
    expect(wildcard.filter((w) => !unscopable.has(w.split(" ")[1]!) || !w.endsWith(' "*"'))).toEqual([]);
  });

  it("passes cdk-nag AwsSolutionsChecks with no unsuppressed warning or error", () => {
    const findings = each().flatMap(({ messages }) => messages.filter((m) => m.level !== "info" && m.text.includes("AwsSolutions-")));
    expect(findings.map((f) => `${f.path}: ${f.text.slice(0, 120)}`)).toEqual([]);
  });

  it("suppresses only reviewed rules, each with a reason", () => {
    const suppressions = each().flatMap(({ template }) =>
      Object.values(
        template.toJSON().Resources as Record<string, { Metadata?: { cdk_nag?: { rules_to_suppress: { id: string; reason: string }[] } } }>,
      ).flatMap((r) => r.Metadata?.cdk_nag?.rules_to_suppress ?? []),
    );
    expect(new Set(suppressions.map((s) => s.id))).toEqual(
      new Set(["AwsSolutions-IAM4", "AwsSolutions-IAM5", "AwsSolutions-L1", "AwsSolutions-SQS3", "AwsSolutions-SMG4"]),
    );
    for (const s of suppressions) expect(s.reason.length, `${s.id}: ${s.reason}`).toBeGreaterThanOrEqual(80);
  });
});

describe("bundled dual-write handler (the esbuild output SST deploys)", () => {
  it("finds its migration in the bundled registry and converges the table, with no migrations folder beside it", async () => {
    const id = "0002_split-workflow-tasks";
    const fn = getStack(Stream).node.findChild(`DualWrite${migrationSuffix(id)}`);
    const bundle = join(import.meta.dirname, "../../.sst/artifacts", fn.node.addr, "packages/functions/src/dual-write.mjs");
    const clients = testClients();
    const table = await freshPlainTable(clients, "bundle");
    const control = `${table}.ferry`;
    await ensureControlTable(clients.raw, control);
    const event = (await import("../fixtures/stream-events/01-insert.json", { with: { type: "json" } })).default as unknown as DynamoDBStreamEvent;
    for (const r of event.Records) await clients.doc.send(new PutCommand({ TableName: table, Item: fromLambdaImage(r.dynamodb!.NewImage!) }));
    const env = { FERRY_MIGRATION: id, FERRY_TABLE: table, FERRY_CONTROL_TABLE: control, AWS_ENDPOINT_URL_DYNAMODB: endpoint() };
    const saved = { ...process.env };
    Object.assign(process.env, env);
    delete process.env.FERRY_MIGRATIONS_DIR;
    try {
      const { handler } = (await import(pathToFileURL(bundle).href)) as { handler: (e: DynamoDBStreamEvent) => Promise<unknown> };
      expect(await handler(event)).toEqual({ batchItemFailures: [] });
    } finally {
      process.env = saved;
    }
    const migration = MIGRATIONS[id] as Migration;
    const items = await scanAll(clients, table);
    const expected = items
      .filter((i) => !(OWNER_ATTRIBUTE in i) && String(i.SK).match(migration.source.skPattern!))
      .flatMap((i) => deriveRecords(migration, i));
    const derived = items.filter((i) => OWNER_ATTRIBUTE in i);
    expect(derived.map((r) => keyId(WORKFLOWS_TABLE, r)).sort()).toEqual(expected.map((r) => keyId(WORKFLOWS_TABLE, r)).sort());
    expect(derived.length).toBeGreaterThan(0);
  });
});
