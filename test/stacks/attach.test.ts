// A stage attached to an existing table (FERRY_TABLE_ARN / FERRY_TABLE_NAME plus
// FERRY_TABLE_STREAM_ARN): the stage config's validation, then the whole app synthesized
// once in that mode (functions not bundled: the IAM, resources and cdk-nag findings do not
// depend on the code): the table imported, never a resource; every grant on its exact ARNs;
// cdk-nag clean. The created mode (nothing configured) is test/stacks/app.test.ts.
import { Match, type Template } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_TABLE_ACTIONS, Api } from "../../stacks/Api.ts";
import { Backfill } from "../../stacks/Backfill.ts";
import { DATA_TABLE_ENV, InvalidTableConfigError, MissingTableStreamArnError, dataTableConfig } from "../../stacks/data-table.ts";
import { Storage } from "../../stacks/Storage.ts";
import { DUAL_WRITE_TABLE_ACTIONS, STREAM_READ_ACTIONS, Stream } from "../../stacks/Stream.ts";
import { type SynthesizedApp, synth, synthProject } from "../support/synth.ts";

const TABLE = "orders-prod";
// Another account than the stage's (123456789012): the ARN is used as given, not rebuilt.
const TABLE_ARN = `arn:aws:dynamodb:us-east-1:210987654321:table/${TABLE}`;
const STREAM_ARN = `${TABLE_ARN}/stream/2026-11-30T08:15:00.123`;
const ATTACH = { [DATA_TABLE_ENV.arn]: TABLE_ARN, [DATA_TABLE_ENV.streamArn]: STREAM_ARN };
const STACKS = { Storage, Stream, Backfill, Api };

/** Runs `fn` with `env` in process.env (the stacks read stage config from there), then restores it. */
async function withEnv<T>(env: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    return await fn();
  } finally {
    process.env = saved;
  }
}

describe("dataTableConfig (stage config)", () => {
  it("creates the example table when nothing is configured", () => {
    expect(dataTableConfig("prod", {})).toEqual({ mode: "create" });
  });

  it("attaches to the table named by FERRY_TABLE_NAME or FERRY_TABLE_ARN, with its stream", () => {
    const stream = "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2026-01-01T00:00:00.000";
    expect(dataTableConfig("prod", { FERRY_TABLE_NAME: "Orders", FERRY_TABLE_STREAM_ARN: stream })).toEqual({
      mode: "attach",
      tableName: "Orders",
      streamArn: stream,
      region: "eu-west-1",
      account: "123456789012",
    });
    expect(dataTableConfig("prod", ATTACH)).toMatchObject({ mode: "attach", tableName: TABLE, tableArn: TABLE_ARN, streamArn: STREAM_ARN });
  });

  it("refuses a table without its stream ARN, naming the variable, the stage's .env file and how to find the ARN", () => {
    const attempt = () => dataTableConfig("prod", { FERRY_TABLE_NAME: "Orders" });
    expect(attempt).toThrow(MissingTableStreamArnError);
    expect(attempt).toThrow(/FERRY_TABLE_STREAM_ARN is not set.*\.env\.prod.*describe-table --table-name Orders --query Table\.LatestStreamArn/);
    expect(() => dataTableConfig("prod", { FERRY_TABLE_ARN: TABLE_ARN })).toThrow(MissingTableStreamArnError);
  });

  it("refuses variables that are malformed or disagree, naming the variable", () => {
    const stream = (table: string) => `arn:aws:dynamodb:us-east-1:123456789012:table/${table}/stream/label`;
    const cases: [Record<string, string>, RegExp][] = [
      [{ FERRY_TABLE_STREAM_ARN: stream("Orders") }, /FERRY_TABLE_STREAM_ARN=.* is set without FERRY_TABLE_NAME or FERRY_TABLE_ARN/],
      [{ FERRY_TABLE_NAME: "a b", FERRY_TABLE_STREAM_ARN: stream("Orders") }, /FERRY_TABLE_NAME="a b" is not a DynamoDB table name/],
      [{ FERRY_TABLE_ARN: "Orders", FERRY_TABLE_STREAM_ARN: stream("Orders") }, /FERRY_TABLE_ARN="Orders" is not a DynamoDB table ARN/],
      [
        { FERRY_TABLE_NAME: "Orders", FERRY_TABLE_STREAM_ARN: "arn:aws:dynamodb:us-east-1:123456789012:table/Orders" },
        /FERRY_TABLE_STREAM_ARN=.* is not a DynamoDB stream ARN/,
      ],
      [{ FERRY_TABLE_NAME: "Orders", FERRY_TABLE_STREAM_ARN: stream("Invoices") }, /is the stream of table "Invoices", not of "Orders"/],
      [
        { FERRY_TABLE_NAME: "Orders", FERRY_TABLE_ARN: TABLE_ARN, FERRY_TABLE_STREAM_ARN: STREAM_ARN },
        /names table "orders-prod" but FERRY_TABLE_NAME is "Orders"/,
      ],
      [
        { FERRY_TABLE_ARN: TABLE_ARN, FERRY_TABLE_STREAM_ARN: `arn:aws:dynamodb:eu-west-1:210987654321:table/${TABLE}/stream/x` },
        /is in eu-west-1\/210987654321 but FERRY_TABLE_ARN is in us-east-1\/210987654321/,
      ],
    ];
    for (const [env, message] of cases) {
      expect(() => dataTableConfig("prod", env), JSON.stringify(env)).toThrow(InvalidTableConfigError);
      expect(() => dataTableConfig("prod", env), JSON.stringify(env)).toThrow(message);
    }
  });

  it("refuses a stream in another region than the stage's (an event source mapping reads only its own region's)", () => {
    const env = { FERRY_TABLE_NAME: "Orders", FERRY_TABLE_STREAM_ARN: "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/x" };
    expect(() => dataTableConfig("prod", env, "us-east-1")).toThrow(/is in region eu-west-1 but the stage deploys to us-east-1/);
    expect(dataTableConfig("prod", env, "eu-west-1")).toMatchObject({ mode: "attach", region: "eu-west-1" });
  });

  it("stops the synthesis when the stream ARN is missing", async () => {
    await withEnv({ FERRY_TABLE_NAME: TABLE }, async () => {
      await expect(synth("prod", [Storage])).rejects.toThrow(/Stage "prod" attaches to table "orders-prod" but FERRY_TABLE_STREAM_ARN is not set/);
    });
  });

  it("imports a table given by name in the stage's own account and region", async () => {
    const stream = "arn:aws:dynamodb:us-east-1:123456789012:table/Orders/stream/x";
    const template = await withEnv({ FERRY_TABLE_NAME: "Orders", FERRY_TABLE_STREAM_ARN: stream }, async () => (await synth("prod", [Storage]))(Storage));
    expect(JSON.stringify(template.findOutputs("TableArn"))).toMatch(/dynamodb:us-east-1:123456789012:table\/Orders"/);
    template.hasOutput("TableName", { Value: "Orders" });
  });
});

describe(`stage attached to ${TABLE_ARN}`, () => {
  let synthesized: SynthesizedApp;
  let saved: NodeJS.ProcessEnv;
  beforeAll(async () => {
    saved = { ...process.env };
    synthesized = await synthProject("prod", { FERRY_JWT_ISSUER: "https://login.example.com/", ...ATTACH }, { bundle: false });
  }, 180_000);
  afterAll(() => {
    process.env = saved;
  });

  type Statement = { Action: string | string[]; Resource: unknown };
  const statements = (template: Template, prefix = ""): Statement[] =>
    Object.entries(template.findResources("AWS::IAM::Policy"))
      .filter(([id]) => id.startsWith(prefix))
      .flatMap(([, p]) => (p.Properties as { PolicyDocument: { Statement: Statement[] } }).PolicyDocument.Statement);
  const onTable = (template: Template, prefix = "") =>
    statements(template, prefix).filter((s) => JSON.stringify(s.Resource).includes(TABLE) && !JSON.stringify(s.Resource).includes("/stream/"));
  const tableEnv = (template: Template) =>
    Object.values(template.findResources("AWS::Lambda::Function"))
      .map((f) => (f.Properties as { Environment?: { Variables: Record<string, unknown> } }).Environment?.Variables)
      .filter((v) => v && "FERRY_TABLE" in v)
      .map((v) => v!.FERRY_TABLE);

  it("imports the table: no DynamoDB table resource for it, only the control table", () => {
    const storage = synthesized.template(Storage);
    // The `table` migrations' copy targets (stacks/target-table.ts, here 0004's) are the stage's own tables, not the attached one.
    const notTarget = ([id]: [string, unknown]) => !id.startsWith("TargetTable");
    const tables = Object.entries(storage.findResources("AWS::DynamoDB::Table"))
      .filter(notTarget)
      .map(([, r]) => r);
    expect(tables).toHaveLength(1);
    expect(tables[0]!.Properties).toMatchObject({ TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true } });
    for (const stack of Object.values(STACKS)) {
      const resources = synthesized.template(stack).toJSON().Resources as Record<string, { Type: string }>;
      expect(
        Object.values(Object.fromEntries(Object.entries(resources).filter(notTarget))).filter(
          (r) => r.Type.startsWith("AWS::DynamoDB::") || r.Type === "AWS::CloudFormation::CustomResource",
        ),
      ).toEqual(stack === Storage ? [expect.objectContaining({ Type: "AWS::DynamoDB::Table" })] : []);
    }
    storage.hasOutput("TableName", { Value: TABLE });
    storage.hasOutput("TableArn", { Value: TABLE_ARN });
  });

  it("maps each dual-write consumer to the table's stream, and scopes its IAM to the stream and the table's exact ARNs", () => {
    const stream = synthesized.template(Stream);
    const mappings = Object.values(stream.findResources("AWS::Lambda::EventSourceMapping"));
    expect(mappings.length).toBeGreaterThanOrEqual(2);
    for (const m of mappings) expect((m.Properties as { EventSourceArn: unknown }).EventSourceArn).toBe(STREAM_ARN);
    const own = statements(stream, "DualWrite");
    expect(own).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Action: STREAM_READ_ACTIONS, Resource: STREAM_ARN }),
        expect.objectContaining({ Action: DUAL_WRITE_TABLE_ACTIONS, Resource: TABLE_ARN }),
      ]),
    );
    expect(DUAL_WRITE_TABLE_ACTIONS).toContain("dynamodb:DescribeTable");
    expect(tableEnv(stream).length).toBe(mappings.length);
    for (const v of tableEnv(stream)) expect(v).toBe(TABLE);
  });

  it("grants the backfill's Page its Scan, writes and DescribeTable on the table's exact ARN", () => {
    const backfill = synthesized.template(Backfill);
    const page = onTable(backfill, "BackfillPage");
    expect(page).toHaveLength(1);
    // Its write actions follow the backfill's design (stacks/Backfill.ts); reading and the key schema are the fixed part.
    expect([page[0]!.Action].flat()).toEqual(expect.arrayContaining(["dynamodb:Scan", "dynamodb:DescribeTable"]));
    // CDK's grant adds `<arn>/index/*` only for a table with indexes (here a no-op AWS::NoValue).
    expect([page[0]!.Resource].flat().filter((r) => JSON.stringify(r) !== '{"Ref":"AWS::NoValue"}')).toEqual([TABLE_ARN]);
    // The other tasks touch only the control table.
    expect(onTable(backfill).length).toBe(1);
    for (const v of tableEnv(backfill)) expect(v).toBe(TABLE);
  });

  it("lets the API read the table (and its key schema) by its exact ARN, and write nothing on it", () => {
    const api = synthesized.template(Api);
    expect(onTable(api, "ApiHandler")).toEqual([expect.objectContaining({ Action: API_TABLE_ACTIONS, Resource: TABLE_ARN })]);
    expect(API_TABLE_ACTIONS).toContain("dynamodb:DescribeTable");
    api.hasResourceProperties("AWS::Lambda::Function", { Environment: { Variables: Match.objectLike({ FERRY_TABLE: TABLE }) } });
  });

  it("grants nothing on other tables, indexes or streams of the table's account", () => {
    const wide = Object.values(STACKS)
      .flatMap((stack) => statements(synthesized.template(stack)))
      .flatMap((s) => [s.Resource].flat().map((r) => JSON.stringify(r)))
      .filter((r) => r.includes(TABLE) && r !== JSON.stringify(TABLE_ARN) && r !== JSON.stringify(STREAM_ARN));
    expect(wide).toEqual([]);
  });

  it("passes cdk-nag AwsSolutionsChecks with no unsuppressed warning or error", () => {
    const findings = Object.values(STACKS).flatMap((stack) =>
      synthesized.messages(stack).filter((m) => m.level !== "info" && m.text.includes("AwsSolutions-")),
    );
    expect(findings.map((f) => `${f.path}: ${f.text.slice(0, 120)}`)).toEqual([]);
    // The rule set is checked, not skipped: every function still carries its reviewed suppressions.
    const suppressed = Object.values(STACKS).flatMap((stack) =>
      Object.values(
        synthesized.template(stack).toJSON().Resources as Record<string, { Metadata?: { cdk_nag?: { rules_to_suppress: { id: string }[] } } }>,
      ).flatMap((r) => r.Metadata?.cdk_nag?.rules_to_suppress.map((s) => s.id) ?? []),
    );
    expect(new Set(suppressed)).toEqual(new Set(["AwsSolutions-IAM4", "AwsSolutions-IAM5", "AwsSolutions-L1", "AwsSolutions-SQS3", "AwsSolutions-SMG4"]));
  });
});
