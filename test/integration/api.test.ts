// The API over real HTTP on DynamoDB Local: v1 == v2, pagination, tokens, auth, tenants, bad input.
import { contextId, tenantId } from "@ferry/example-workflows";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalApiServer } from "../../examples/workflows/src/api/local-server.ts";
import { injectFaults } from "../support/faults.ts";
import { testClients } from "../support/dynamo.ts";
import { type ConvertedTable, JWT_SECRET, apiServer, convertedTable, expectedByContext, get, getAll, tokenFor } from "../support/api.ts";
import { signDevToken } from "../../examples/workflows/src/api/auth.ts";

const A = tenantId(0);
const B = tenantId(1);
let t: ConvertedTable;
let server: LocalApiServer;

beforeAll(async () => {
  // 2 tenants x 300 workflows of ~10 KB (3 MB per partition), each context shared by 60 workflows.
  t = await convertedTable({ tenants: 2, workflows: 300, contexts: 2, pool: 10, tasks: 3, itemKb: 10, seed: 11 });
  server = await apiServer(t);
}, 60_000);
afterAll(async () => server?.close());

describe("workflows by context", () => {
  it("v1 and v2 return the same workflows, each once, for several limits, across many pages", async () => {
    // Arrange: v1 reads 100 items (~1 MB) per page, as AWS stops a page at 1 MB: the partition is 3+ pages.
    const ctx = contextId(3);
    const expected = expectedByContext(t.workflows, A, ctx);
    expect(expected.length).toBe(60);

    for (const limit of [7, 25, 60, 1000]) {
      // Act
      const v1 = await getAll(server, `/v1/workflows?context=${ctx}&limit=${limit}`, A);
      const v2 = await getAll(server, `/v2/workflows?context=${ctx}&limit=${limit}`, A);
      // Assert: every match exactly once, in key order, on both versions.
      expect(v1.ids).toEqual(expected);
      expect(v2.ids).toEqual(expected);
      expect(v1.pages).toBeGreaterThanOrEqual(Math.ceil(60 / limit));
    }
  });

  it("v1 stops mid-page at the limit and resumes right after the last match", async () => {
    const small = await apiServer(t, { v1: { pageLimit: 7 } });
    try {
      const ctx = contextId(5);
      const { ids, pages } = await getAll(small, `/v1/workflows?context=${ctx}&limit=4`, A);
      expect(ids).toEqual(expectedByContext(t.workflows, A, ctx));
      expect(pages).toBeGreaterThanOrEqual(15);
    } finally {
      await small.close();
    }
  });

  it("answers items with id and fields, never keys or ferry's owner stamp, and X-Api-Version", async () => {
    const res = await get(server, `/v2/workflows?context=${contextId(1)}&limit=2`, A);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-api-version")).toBe("v2");
    const [first] = res.body.items;
    expect(Object.keys(first)).toEqual(expect.arrayContaining(["id", "name", "status", "contexts"]));
    expect(first).not.toHaveProperty("PK");
    expect(first).not.toHaveProperty("SK");
    expect(first).not.toHaveProperty("ferry");
    expect(first).not.toHaveProperty("tasks");
    expect(typeof res.body.nextToken).toBe("string");
  });

  it("BatchGet in chunks of 100 with injected UnprocessedKeys loses nothing", async () => {
    const clients = testClients();
    const faults = injectFaults(clients.raw, { unprocessedKeysRate: 0.8, seed: 3 });
    const faulty = await apiServer({ ...t, clients }, { v2: { batchGet: { backoff: { baseMs: 1, maxMs: 5, maxAttempts: 50 } } } });
    try {
      // Two contexts' worth of keys in one request: 120 keys -> 2 chunks.
      for (const ctx of [contextId(0), contextId(7)]) {
        const res = await get(faulty, `/v2/workflows?context=${ctx}&limit=1000`, B);
        expect(res.status).toBe(200);
        expect(res.body.items.map((i: { id: string }) => i.id)).toEqual(expectedByContext(t.workflows, B, ctx));
      }
      expect(faults.unprocessedKeys).toBeGreaterThan(0);
    } finally {
      await faulty.close();
    }
  });
});

describe("nextToken", () => {
  it("rejects tampered, foreign-tenant, other-query and other-version tokens with a 400", async () => {
    const first = await get(server, `/v1/workflows?context=${contextId(2)}&limit=5`, A);
    const token: string = first.body.nextToken;
    const [body, sig] = token.split(".") as [string, string];
    const payload = JSON.parse(Buffer.from(body, "base64url").toString());
    payload.k.SK = "WF#zzzz"; // an attacker-chosen start key
    const forged = `${Buffer.from(JSON.stringify(payload)).toString("base64url")}.${sig}`;

    const cases = [
      [A, `/v1/workflows?context=${contextId(2)}&nextToken=${forged}`],
      [A, `/v1/workflows?context=${contextId(2)}&nextToken=${token.slice(0, -2)}xx`],
      [A, `/v1/workflows?context=${contextId(2)}&nextToken=garbage`],
      [B, `/v1/workflows?context=${contextId(2)}&nextToken=${token}`],
      [A, `/v1/workflows?context=${contextId(3)}&nextToken=${token}`],
      [A, `/v2/workflows?context=${contextId(2)}&nextToken=${token}`],
    ] as const;
    for (const [tenant, path] of cases) {
      const res = await get(server, path, tenant);
      expect(res.status, path).toBe(400);
      expect(res.body.error.code).toBe("invalid_next_token");
    }
  });
});

describe("tenants and auth", () => {
  it("never shows another tenant's workflow on any route or version", async () => {
    const ofA = t.workflows.find((w) => w.PK === A) as { SK: string };
    const id = ofA.SK.slice(3);
    for (const path of [
      `/v1/workflows/${id}`,
      `/v2/workflows/${id}`,
      `/workflows/${id}`,
      `/v1/workflows/${id}/tasks`,
      `/v2/workflows/${id}/tasks`,
      `/workflows/${id}/tasks`,
    ]) {
      expect((await get(server, path, A)).status, path).toBe(200);
      const res = await get(server, path, B);
      expect(res.status, path).toBe(404);
      expect(res.body.error.code).toBe("not_found");
    }
    // Context ids are per-tenant pools with the same names: B's answer holds only B's workflows.
    const ctx = contextId(1);
    const bIds = new Set((await getAll(server, `/v2/workflows?context=${ctx}&limit=1000`, B)).ids);
    for (const aId of expectedByContext(t.workflows, A, ctx)) expect(bIds.has(aId)).toBe(false);
  });

  it("401 without a valid token: missing, wrong secret, expired, no tenant claim", async () => {
    const path = `/v2/workflows?context=${contextId(1)}`;
    const wrong = await signDevToken("another-secret", A);
    const expired = await tokenFor(A, { ttlSeconds: 1, now: Date.now() - 3_600_000 });
    const { sign } = await import("hono/jwt");
    const noTenant = await sign({ sub: "x", exp: Math.floor(Date.now() / 1000) + 60 }, JWT_SECRET, "HS256");
    for (const authorization of [undefined, "Bearer", `Basic ${wrong}`, `Bearer ${wrong}`, `Bearer ${expired}`, `Bearer ${noTenant}`]) {
      const res = await fetch(`${server.url}${path}`, { headers: authorization ? { authorization } : {} });
      expect(res.status, authorization).toBe(401);
      const body = (await res.json()) as { error: { code: string } };
      expect(body.error.code).toBe("unauthorized");
    }
  });

  it("401 for a token that never expires or lives longer than the maximum, saying so", async () => {
    const { sign } = await import("hono/jwt");
    const now = Math.floor(Date.now() / 1000);
    const forever = await sign({ tenant: A, sub: "x", iat: now }, JWT_SECRET, "HS256");
    const yearLong = await sign({ tenant: A, sub: "x", iat: now, exp: now + 365 * 86_400 }, JWT_SECRET, "HS256");
    const month = await sign({ tenant: A, sub: "x", iat: now, exp: now + 29 * 86_400 }, JWT_SECRET, "HS256");
    const answers = await Promise.all(
      [forever, yearLong, month].map(async (token) => {
        const res = await fetch(`${server.url}/v2/workflows?context=${contextId(1)}`, { headers: { authorization: `Bearer ${token}` } });
        return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
      }),
    );
    expect(answers[0]).toMatchObject({
      status: 401,
      body: { error: { code: "unauthorized", message: expect.stringMatching(/no "exp" claim \(tokens must expire within 30 days\)/) } },
    });
    expect(answers[1]).toMatchObject({ status: 401, body: { error: { code: "unauthorized", message: expect.stringMatching(/lives longer than 30 days/) } } });
    expect(answers[2]?.status).toBe(200);
  });

  it("tasks: v1 reads the embedded array, v2 the child records, same tasks in the same order", async () => {
    const wf = t.workflows.find((w) => w.PK === B) as { SK: string; tasks: { id: string }[] };
    const id = wf.SK.slice(3);
    const v1 = await get(server, `/v1/workflows/${id}/tasks`, B);
    const v2 = await get(server, `/v2/workflows/${id}/tasks`, B);
    expect(v1.body.items.map((x: { id: string }) => x.id)).toEqual(wf.tasks.map((x) => x.id));
    expect(v2.body.items).toEqual(v1.body.items);
    const item1 = await get(server, `/v1/workflows/${id}`, B);
    const item2 = await get(server, `/v2/workflows/${id}`, B);
    expect(item1.body.tasks).toHaveLength(3);
    expect(item2.body).toEqual({ ...item1.body, tasks: undefined });
  });
});

describe("bad input gets a 4xx JSON error naming the problem", () => {
  it.each([
    ["/v1/workflows", 400, "bad_request", /context is required/],
    [`/v2/workflows?context=a%23b`, 400, "bad_request", /context must be/],
    [`/v2/workflows?context=${"x".repeat(200)}`, 400, "bad_request", /context must be/],
    [`/v1/workflows?context=ctx-00001&limit=0`, 400, "bad_request", /limit must be/],
    [`/v1/workflows?context=ctx-00001&limit=abc`, 400, "bad_request", /limit must be/],
    [`/v1/workflows?context=ctx-00001&limit=5000`, 400, "bad_request", /limit must be/],
    [`/v3/workflows?context=ctx-00001`, 400, "unknown_version", /Unknown API version "v3"/],
    [`/v2/workflows/a%23b`, 400, "bad_request", /workflow id/],
    [`/v2/nothing`, 404, "not_found", /No route/],
  ])("GET %s -> %i %s", async (path, status, code, message) => {
    const res = await get(server, path, A);
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message).toMatch(message);
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+/);
  });

  it("answers other methods on existing routes with 405 and Allow, as JSON", async () => {
    for (const [method, path, allow] of [
      ["PUT", "/v1/workflows", "GET, HEAD, POST"],
      ["PUT", "/v2/workflows/wf-1", "GET, HEAD, PATCH, DELETE"],
      ["PUT", "/workflows/wf-1/tasks", "GET, HEAD, POST"],
      ["GET", "/workflows/wf-1/tasks/t-1", "PATCH, DELETE"],
    ] as const) {
      const res = await fetch(`${server.url}${path}`, { method, headers: { authorization: `Bearer ${await tokenFor(A)}` } });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get("allow")).toBe(allow);
      expect(await res.json()).toMatchObject({
        error: { code: "method_not_allowed", message: expect.stringContaining(`${method} is not allowed on ${path}`) },
      });
    }
    // Still 404 for paths that are no route at all.
    expect((await fetch(`${server.url}/v2/nothing`, { method: "POST" })).status).toBe(404);
  });

  it("answers a 60 KB URL with 431 and a JSON error body", async () => {
    const res = await fetch(`${server.url}/v2/workflows?context=${"x".repeat(60_000)}`, { headers: { authorization: `Bearer ${await tokenFor(A)}` } });
    expect(res.status).toBe(431);
    expect(res.headers.get("content-type")).toMatch(/application\/json/);
    expect(await res.json()).toMatchObject({ error: { code: "headers_too_large", message: expect.stringMatching(/shorten the URL/) } });
  });

  it("rejects an unknown Accept-Version", async () => {
    const res = await get(server, `/workflows?context=${contextId(1)}`, A, { "accept-version": "7" });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("unknown_version");
  });
});
