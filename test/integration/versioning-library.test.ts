// The versioning library on an app of its own (test/fixtures/versioned-app: products per shop,
// its own table and keys, only @ferry/core), over real HTTP on DynamoDB Local, and the same
// reads in a plain API Gateway Lambda handler.
import type { AddressInfo } from "node:net";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { batchPutAll, ensureControlTable } from "@ferry/core";
import { readServerRecords } from "@ferry/core/release/server-record";
import { readShadowStats } from "@ferry/core/release/shadow";
import { moveRelease, pinTenant, readRelease, setV1Retired } from "@ferry/core/release/store";
import { readUsage } from "@ferry/core/release/usage";
import { serve } from "@hono/node-server";
import { beforeAll, describe, expect, it } from "vitest";
import { createProductsApp } from "../fixtures/versioned-app/hono-app.ts";
import { createProductHandler } from "../fixtures/versioned-app/lambda-handler.ts";
import { type Product, createProductsTable } from "../fixtures/versioned-app/products.ts";
import { testClients, uniqueTableName } from "../support/dynamo.ts";

const clients = testClients();
const table = uniqueTableName("products");
const controlTable = `${table}.ferry`;
const KEYS = { "key-a": "shop-a", "key-b": "shop-b" };

function product(shop: string, n: number): Product {
  const cents = 100 + n;
  return {
    shop,
    sku: `sku-${String(n).padStart(3, "0")}`,
    category: n % 2 === 0 ? "tools" : "toys",
    title: `Product ${n}`,
    priceCents: cents,
    name: `Product ${n}`,
    price: { amount: (cents / 100).toFixed(2), currency: "EUR" },
  };
}
const catalog = [...Array.from({ length: 30 }, (_, n) => product("shop-a", n)), ...Array.from({ length: 6 }, (_, n) => product("shop-b", n))];
const tools = (shop: string) => catalog.filter((p) => p.shop === shop && p.category === "tools").map((p) => p.sku);

beforeAll(async () => {
  await createProductsTable(clients.raw, table);
  await ensureControlTable(clients.raw, controlTable);
  await batchPutAll(clients.doc, table, catalog);
}, 60_000);

/** The products app on a free port, following its own migration's release. */
async function startApp(migrationId: string, extra: Partial<Parameters<typeof createProductsApp>[0]> = {}, doc = clients.doc) {
  const release = { doc, controlTable, migrationId };
  const { app, versioning } = createProductsApp({ store: { doc: clients.doc, table }, release, tokenSecret: "products-token-secret", apiKeys: KEYS, ...extra });
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  versioning.start();
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const get = async (path: string, key = "key-a", headers: Record<string, string> = {}) => {
    const res = await fetch(`${url}${path}`, { headers: { "x-api-key": key, ...headers } });
    return { status: res.status, headers: res.headers, body: (await res.json()) as any };
  };
  const close = async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await versioning.stop();
  };
  return { url, release, versioning, get, close };
}

/** Waits past the release cache (100 ms) so a change is seen. */
const pastCache = () => new Promise((r) => setTimeout(r, 150));

/** Every id of a paginated list, following nextToken. */
async function all(app: Awaited<ReturnType<typeof startApp>>, path: string, key = "key-a") {
  const ids: string[] = [];
  let token: string | null = null;
  do {
    const res = await app.get(token ? `${path}&nextToken=${encodeURIComponent(token)}` : path, key);
    if (res.status !== 200) throw new Error(`${path} -> ${res.status} ${JSON.stringify(res.body)}`);
    ids.push(...res.body.items.map((i: { id: string }) => i.id));
    token = res.body.nextToken;
  } while (token);
  return ids;
}

describe("the library on a Hono app of its own", () => {
  it("chooses the version by path, Accept-Version, the release and pins, and says so in the headers", async () => {
    const a = await startApp("0001_products-versions");
    try {
      // Before any move: unversioned is v1, without deprecation headers.
      const before = await a.get("/api/products/sku-001");
      expect(before).toMatchObject({ status: 200, body: { id: "sku-001", title: "Product 1", priceCents: 101 } });
      expect(before.headers.get("x-api-version")).toBe("v1");
      expect(before.headers.get("deprecation")).toBeNull();
      expect((await a.get("/api/v2/products/sku-001")).body).toEqual({ id: "sku-001", name: "Product 1", price: { amount: "1.01", currency: "EUR" } });
      expect((await a.get("/api/products/sku-001", "key-a", { "accept-version": "2" })).headers.get("x-api-version")).toBe("v2");
      // The app's own route knows nothing of versions.
      expect(await (await fetch(`${a.url}/health`)).json()).toEqual({ ok: true });

      // Act: everyone to v2, shop-b pinned to v1.
      await moveRelease(a.release, { to: "v2", actor: "test" });
      await pinTenant(a.release, "shop-b", "v1", "test");
      await pastCache();

      // Assert
      expect((await a.get("/api/products/sku-001")).headers.get("x-api-version")).toBe("v2");
      const pinned = await a.get("/api/products/sku-001", "key-b");
      expect(pinned.headers.get("x-api-version")).toBe("v1");
      const config = await readRelease(a.release);
      expect(pinned.headers.get("deprecation")).toBe(`@${Math.floor(Date.parse(config.moveStartedAt as string) / 1000)}`);
      expect(pinned.headers.get("sunset")).toBe(new Date(config.sunsetAt as string).toUTCString());
      expect(pinned.headers.get("link")).toBe(`</api/v2/products/sku-001>; rel="successor-version"`);
      expect((await a.get("/api/v1/products/sku-001")).headers.get("x-api-version")).toBe("v1");
      expect((await a.get("/api/v3/products/sku-001")).body.error).toMatchObject({ code: "unknown_version", message: expect.stringMatching(/"v3"/) });
      // Another shop's product is a 404; a method the route does not declare a 405 with Allow.
      expect((await a.get("/api/v2/products/sku-020", "key-b")).status).toBe(404);
      const post = await fetch(`${a.url}/api/v2/products`, { method: "POST", headers: { "x-api-key": "key-a" } });
      expect(post.status).toBe(405);
      expect(post.headers.get("allow")).toBe("GET, HEAD");
      expect((await a.get("/api/v2/products/sku-001", "no-such-key")).status).toBe(401);
    } finally {
      await a.close();
    }
  });

  it("answers 410 Gone with the successor once v1 is retired; unversioned serves v2", async () => {
    const a = await startApp("0002_products-retire");
    try {
      expect((await a.get("/api/v1/products/sku-002")).status).toBe(200);
      await moveRelease(a.release, { to: "v2", actor: "test" });
      await setV1Retired(a.release, true, "test", "remove step");
      await pastCache();

      const gone = await a.get("/api/v1/products/sku-002");
      expect(gone.status).toBe(410);
      expect(gone.body.error).toMatchObject({ code: "gone", message: expect.stringMatching(/call \/api\/v2\/products\/sku-002 instead/) });
      expect(gone.headers.get("link")).toBe(`</api/v2/products/sku-002>; rel="successor-version"`);
      expect((await a.get("/api/products/sku-002", "key-a", { "accept-version": "1" })).status).toBe(410);
      expect((await a.get("/api/products/sku-002")).headers.get("x-api-version")).toBe("v2");
    } finally {
      await a.close();
    }
  });

  it("counts usage per version: a v1 answer is declared in the server record first, and a clean stop flushes every count", async () => {
    const a = await startApp("0003_products-usage");
    const since = Date.now();
    let stopped = false;
    try {
      // Act
      for (let i = 0; i < 3; i++) expect((await a.get("/api/v1/products/sku-003")).status).toBe(200);
      expect((await a.get("/api/v2/products/sku-003")).status).toBe(200);
      // Assert (before any flush): the record says this server holds v1 counts.
      const [held] = await readServerRecords(a.release);
      expect(held?.holdsV1Since).toBeGreaterThanOrEqual(since);
      expect(held?.until).toBeGreaterThan(Date.now());
      await a.close();
      stopped = true;
    } finally {
      if (!stopped) await a.close();
    }
    expect((await readUsage(a.release, "v1", since - 60_000)).requestsSince).toBe(3);
    expect((await readUsage(a.release, "v2", since - 60_000)).requestsSince).toBe(1);
    const [closed] = await readServerRecords(a.release);
    expect(closed).toMatchObject({ stoppedAt: expect.any(Number) });
    expect(closed?.holdsV1Since).toBeUndefined();
  });

  it("refuses a v1 request with 503 and Retry-After while its server record cannot be written; v2 is unaffected", async () => {
    // Arrange: server-record writes fail while `broken` is set.
    const faulty = testClients();
    let broken = true;
    faulty.raw.middlewareStack.add(
      ((next: (a: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: { input: { Item?: { SK?: string | { S?: string } } } }) => {
        const sk = args.input.Item?.SK;
        if (broken && /^Put(Item)?Command$/.test(context.commandName ?? "") && (typeof sk === "string" ? sk : sk?.S)?.startsWith("server#")) {
          throw Object.assign(new Error("injected: control table unavailable"), { name: "InternalServerError" });
        }
        return next(args);
      }) as never,
      { step: "initialize", priority: "high", name: "test-break-server-record" },
    );
    const a = await startApp("0007_products-unrecorded", { logError: () => {} }, faulty.doc);
    try {
      // Act
      const refused = await a.get("/api/v1/products/sku-007");
      const v2 = await a.get("/api/v2/products/sku-007");
      broken = false;
      const served = await a.get("/api/v1/products/sku-007");

      // Assert
      expect(refused.status).toBe(503);
      expect(refused.headers.get("retry-after")).toBe("1");
      expect(refused.body.error).toMatchObject({ code: "usage_unrecorded", message: expect.stringMatching(/could not be recorded/) });
      expect(v2.status).toBe(200);
      expect(served.status).toBe(200);
    } finally {
      await a.close();
    }
  });

  it("signs nextToken per tenant, version and query: both versions page through the same set, and a v1 token on v2 is a 400 naming both", async () => {
    const a = await startApp("0004_products-tokens");
    try {
      // Act
      const v1 = await all(a, "/api/v1/products?category=tools&limit=4");
      const v2 = await all(a, "/api/v2/products?category=tools&limit=4");
      const first = await a.get("/api/v1/products?category=tools&limit=4");
      const token = encodeURIComponent(first.body.nextToken as string);
      const onV2 = await a.get(`/api/v2/products?category=tools&limit=4&nextToken=${token}`);
      const otherShop = await a.get(`/api/v1/products?category=tools&nextToken=${token}`, "key-b");
      const otherQuery = await a.get(`/api/v1/products?category=toys&nextToken=${token}`);
      // Unversioned: a token keeps its pages on the version that issued it.
      const unversioned = await a.get(`/api/products?category=tools&limit=4&nextToken=${token}`, "key-a", { "accept-version": "2" });

      // Assert
      expect(v1).toEqual(tools("shop-a"));
      expect(v2).toEqual(tools("shop-a"));
      expect(onV2.status).toBe(400);
      expect(onV2.body.error).toMatchObject({ code: "invalid_next_token", message: expect.stringMatching(/issued by v1, this request is served by v2/) });
      expect(otherShop.body.error.message).toMatch(/another tenant/);
      expect(otherQuery.body.error.message).toMatch(/another query/);
      expect(unversioned.status).toBe(200);
      expect(unversioned.headers.get("x-api-version")).toBe("v1");
    } finally {
      await a.close();
    }
  });

  it("shadow-compares with the route's own comparison (sku and price): a wrong v2 price is a persistent divergence", async () => {
    const a = await startApp("0005_products-shadow", { random: () => 0 });
    try {
      await moveRelease(a.release, { to: "v2", percent: 100, shadow: 100, actor: "test" });
      const wrong = { ...product("shop-a", 4), price: { amount: "9.99", currency: "EUR" } };
      await clients.doc.send(new PutCommand({ TableName: table, Item: wrong }));
      await pastCache();

      // Act
      const res = await a.get("/api/products?category=tools&limit=100");
      await a.versioning.background.drain();

      // Assert: answered from v2; the comparison (sku:cents) names the product both ways.
      expect(res.headers.get("x-api-version")).toBe("v2");
      const stats = await readShadowStats(a.release);
      expect(stats).toMatchObject({ compared: 1, disagreed: 1, persistent: 1 });
      expect(stats.disagreements[0]).toMatchObject({
        route: "GET /products?category",
        tenant: "shop-a",
        primary: "v2",
        onlyPrimary: ["sku-004:999"],
        onlyShadow: ["sku-004:104"],
      });
    } finally {
      await clients.doc.send(new PutCommand({ TableName: table, Item: product("shop-a", 4) }));
      await a.close();
    }
  });
});

/** An HTTP API (payload 2.0) event after the JWT authorizer accepted a token with these claims. */
function event(rawPath: string, pathParameters: Record<string, string>, claims?: Record<string, string>, headers: Record<string, string> = {}) {
  return {
    version: "2.0",
    routeKey: pathParameters.version ? "GET /{version}/products/{sku}" : "GET /products/{sku}",
    rawPath,
    rawQueryString: "",
    headers: { host: "api.example.com", ...headers },
    pathParameters,
    requestContext: {
      accountId: "123456789012",
      apiId: "api",
      domainName: "api.example.com",
      domainPrefix: "api",
      http: { method: "GET", path: rawPath, protocol: "HTTP/1.1", sourceIp: "203.0.113.1", userAgent: "test" },
      requestId: "r1",
      routeKey: "GET /{version}/products/{sku}",
      stage: "$default",
      time: "01/Dec/2026:11:00:00 +0000",
      timeEpoch: Date.now(),
      ...(claims ? { authorizer: { jwt: { claims, scopes: [] } } } : {}),
    },
    isBase64Encoded: false,
  };
}

describe("the library in a plain Lambda handler", () => {
  it("serves the tenant of the authorizer's claims on the path's version, declares v1 before answering, and answers 410 after retire", async () => {
    // Arrange: a fresh instance (its first flush is 5 s away, so the record is what declares the v1 request).
    const release = { doc: clients.doc, controlTable, migrationId: "0006_products-lambda" };
    const { handler, router } = createProductHandler({ doc: clients.doc, table }, release, "lambda-secret");
    const since = Date.now();
    // Act
    const v1 = await handler(event("/v1/products/sku-005", { version: "v1", sku: "sku-005" }, { tenant: "shop-a" }));
    const records = await readServerRecords(release);
    const v2 = await router(event("/products/sku-005", { sku: "sku-005" }, { tenant: "shop-a" }, { "accept-version": "2" }));
    const unrouted = await router({ ...event("/products", {}, { tenant: "shop-a" }), routeKey: "GET /products" });
    const noClaims = await handler(event("/v2/products/sku-005", { version: "v2", sku: "sku-005" }));
    const otherShop = await handler(event("/v2/products/sku-020", { version: "v2", sku: "sku-020" }, { tenant: "shop-b" }));
    await moveRelease(release, { to: "v2", actor: "test" });
    await setV1Retired(release, true, "test");
    await pastCache();
    const gone = await handler(event("/v1/products/sku-005", { version: "v1", sku: "sku-005" }, { tenant: "shop-a" }));

    // Assert
    expect(v1.statusCode).toBe(200);
    expect(v1.headers?.["X-Api-Version"]).toBe("v1");
    expect(JSON.parse(v1.body as string)).toEqual({ id: "sku-005", title: "Product 5", priceCents: 105 });
    expect(records.filter((r) => r.holdsV1Since !== undefined && r.holdsV1Since >= since)).toHaveLength(1);
    expect(JSON.parse(v2.body as string)).toMatchObject({ id: "sku-005", name: "Product 5" });
    expect(unrouted.statusCode).toBe(404);
    expect(noClaims.statusCode).toBe(401);
    expect(otherShop.statusCode).toBe(404);
    expect(gone.statusCode).toBe(410);
    expect(gone.headers?.Link).toBe(`</v2/products/sku-005>; rel="successor-version"`);
  });

  it("two handlers following one release keep separate server records: one's flush never clears the other's v1 declaration", async () => {
    // Arrange: two instances of the same migration in one process (two functions' worth of routes).
    const release = { doc: clients.doc, controlTable, migrationId: "0008_products-two-handlers" };
    const a = createProductHandler({ doc: clients.doc, table }, release, "lambda-secret");
    const b = createProductHandler({ doc: clients.doc, table }, release, "lambda-secret");
    const v1 = (sku: string) => event(`/v1/products/${sku}`, { version: "v1", sku }, { tenant: "shop-a" });

    // Act: both answer v1; b flushes its count, which clears b's declaration.
    expect((await a.handler(v1("sku-008"))).statusCode).toBe(200);
    expect((await b.handler(v1("sku-009"))).statusCode).toBe(200);
    await b.versioning.release.usage.flush();

    // Assert: a's uncounted v1 request is still declared for the remove guard.
    const records = await readServerRecords(release);
    expect(records).toHaveLength(2);
    expect(records.filter((r) => r.holdsV1Since !== undefined)).toHaveLength(1);
  });
});
