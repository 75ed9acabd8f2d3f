// The API's Lambda entry (hono/aws-lambda) with an API Gateway HTTP API event: tenant from the JWT authorizer's claims.
import { contextId, tenantId } from "@ferry/example-workflows";
import { readServerRecords } from "@ferry/core/release/server-record";
import { readUsage } from "@ferry/core/release/usage";
import { beforeAll, describe, expect, it } from "vitest";
import { type ConvertedTable, convertedTable, expectedByContext } from "../support/api.ts";
import { endpoint } from "../support/dynamo.ts";

let t: ConvertedTable;
let handler: (event: unknown, context?: unknown) => Promise<{ statusCode: number; headers?: Record<string, string>; body: string }>;

/** An HTTP API (payload 2.0) event as API Gateway sends it after its JWT authorizer accepted the token. */
function event(path: string, query: Record<string, string>, claims?: Record<string, string>, write?: { method: string; body: unknown }) {
  const method = write?.method ?? "GET";
  return {
    version: "2.0",
    routeKey: `${method} /v2/{proxy+}`,
    rawPath: path,
    rawQueryString: new URLSearchParams(query).toString(),
    queryStringParameters: query,
    headers: { host: "api.example.com", "x-forwarded-proto": "https" },
    requestContext: {
      accountId: "123456789012",
      apiId: "api",
      domainName: "api.example.com",
      http: { method, path, protocol: "HTTP/1.1", sourceIp: "203.0.113.1", userAgent: "test" },
      requestId: "r1",
      routeKey: `${method} /v2/{proxy+}`,
      stage: "$default",
      time: "23/Nov/2026:07:00:00 +0000",
      timeEpoch: Date.now(),
      ...(claims ? { authorizer: { jwt: { claims, scopes: [] } } } : {}),
    },
    isBase64Encoded: false,
    ...(write ? { body: JSON.stringify(write.body) } : {}),
  };
}

beforeAll(async () => {
  t = await convertedTable({ tenants: 2, workflows: 40, contexts: 2, pool: 4, tasks: 1, itemKb: 1, seed: 21 });
  process.env.AWS_ENDPOINT_URL_DYNAMODB = endpoint();
  process.env.FERRY_TABLE = t.table;
  process.env.FERRY_CONTROL_TABLE = t.controlTable;
  process.env.FERRY_TOKEN_SECRET = "lambda-token-secret";
  ({ handler } = (await import("../../packages/functions/src/api.ts")) as unknown as { handler: typeof handler });
}, 60_000);

describe("API Lambda entry", () => {
  it("serves the tenant named by the authorizer's verified claims", async () => {
    const ctx = contextId(1);
    const res = await handler(event("/v2/workflows", { context: ctx, limit: "100" }, { tenant: tenantId(1), sub: "u1" }));
    expect(res.statusCode).toBe(200);
    expect(res.headers?.["x-api-version"]).toBe("v2");
    const body = JSON.parse(res.body) as { items: { id: string }[] };
    expect(body.items.map((i) => i.id)).toEqual(expectedByContext(t.workflows, tenantId(1), ctx));
  });

  it("writes through the same app: a v2 task add lands in the old model, which v1 reads at once", async () => {
    const wf = t.workflows.find((w) => w.PK === tenantId(1)) as { SK: string; tasks: { id: string }[] };
    const id = wf.SK.slice(3);
    const claims = { tenant: tenantId(1), sub: "u1" };
    const added = await handler(
      event(`/v2/workflows/${id}/tasks`, {}, claims, { method: "POST", body: { name: "From Lambda", dueDate: "2027-01-15T12:00:00Z" } }),
    );
    expect(added.statusCode).toBe(201);
    const task = JSON.parse(added.body) as { id: string; name: string };
    expect(task.name).toBe("From Lambda");
    const v1 = await handler(event(`/v1/workflows/${id}/tasks`, {}, claims));
    expect((JSON.parse(v1.body) as { items: { id: string }[] }).items.map((x) => x.id)).toEqual([...wf.tasks.map((x) => x.id), task.id]);
    const refused = await handler(event(`/v2/workflows/${id}/tasks`, {}, claims, { method: "POST", body: { name: "" } }));
    expect(refused.statusCode).toBe(400);
  });

  it("answers 401 when the event carries no verified claims (route not behind the authorizer)", async () => {
    const res = await handler(event("/v2/workflows", { context: contextId(1) }));
    expect(res.statusCode).toBe(401);
    expect(JSON.parse(res.body).error.code).toBe("unauthorized");
  });

  it("returns a v1 answer only after the instance's server record declares it (a frozen or killed instance cannot hide it)", async () => {
    const before = Date.now();
    const res = await handler(event("/v1/workflows", { context: contextId(0) }, { tenant: tenantId(0) }));
    const records = await readServerRecords({ doc: t.clients.doc, controlTable: t.controlTable, migrationId: "0001_workflow-context-index" });
    expect(res.statusCode).toBe(200);
    const holding = records.filter((r) => r.holdsV1Since !== undefined && r.stoppedAt === undefined);
    expect(holding).toHaveLength(1);
    expect(holding[0]?.holdsV1Since).toBeGreaterThanOrEqual(before);
    expect(holding[0]?.until).toBeGreaterThan(Date.now());
  });

  it("drains background work before returning: the counters are flushed by the invocation that passes the interval", async () => {
    const since = Date.now();
    await new Promise((r) => setTimeout(r, 5_100));
    await handler(event("/v1/workflows", { context: contextId(0) }, { tenant: tenantId(0) }));
    const usage = await readUsage({ doc: t.clients.doc, controlTable: t.controlTable, migrationId: "0001_workflow-context-index" }, "v1", since);
    expect(usage.lastUsedAt).toBeGreaterThanOrEqual(since);
  }, 20_000);
});
