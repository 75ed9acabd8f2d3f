// The release flip over real HTTP: propagation time, canary split, pins, shadow reads, deprecation, retirement, counters.
import { DeleteCommand } from "@aws-sdk/lib-dynamodb";
import { contextId, tenantId } from "@ferry/example-workflows";
import { type ReleaseConfig, INITIAL_RELEASE, tenantBucket, versionFor } from "@ferry/core/release/config";
import { readShadowStats } from "@ferry/core/release/shadow";
import type { ControlLocation } from "@ferry/core/control/keys";
import { moveRelease, pinTenant, readRelease, setV1Retired } from "@ferry/core/release/store";
import { readServerRecords } from "@ferry/core/release/server-record";
import { UsageCounter, readUsage } from "@ferry/core/release/usage";
import { testClients } from "../support/dynamo.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalApiServer } from "../../examples/workflows/src/api/local-server.ts";
import { type ConvertedTable, apiServer, convertedTable, expectedByContext, get } from "../support/api.ts";

const A = tenantId(0);
const B = tenantId(1);
const M1 = "0001_workflow-context-index";
let t: ConvertedTable;
let release: ControlLocation;

beforeAll(async () => {
  t = await convertedTable({ tenants: 2, workflows: 80, contexts: 2, pool: 8, tasks: 2, itemKb: 1, seed: 5 });
  release = { doc: t.clients.doc, controlTable: t.controlTable, migrationId: M1 };
}, 60_000);

const byContext = (ctx = contextId(1)) => `/workflows?context=${ctx}&limit=100`;

describe("the flip", () => {
  let server: LocalApiServer;
  beforeAll(async () => {
    // The default cache time (2 s), as a deployed server runs.
    server = await apiServer(t, { release: {} });
  });
  afterAll(async () => server.close());

  it("before any move, unversioned routes serve v1 without deprecation headers", async () => {
    const res = await get(server, byContext(), A);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-api-version")).toBe("v1");
    expect(res.headers.get("deprecation")).toBeNull();
  });

  it("a move to v2 reaches the running server within 5 s, and the flip back too", async () => {
    for (const to of ["v2", "v1"] as const) {
      // Arrange: warm the cache with the current version.
      await get(server, byContext(), A);
      // Act
      const started = Date.now();
      await moveRelease(release, { to, actor: "test" });
      let seen = "";
      while (seen !== to && Date.now() - started < 10_000) {
        seen = (await get(server, byContext(), A)).headers.get("x-api-version") ?? "";
        if (seen !== to) await new Promise((r) => setTimeout(r, 50));
      }
      // Assert
      expect(seen).toBe(to);
      expect(Date.now() - started).toBeLessThan(5_000);
    }
    const config = await readRelease(release);
    expect(config.history.map((h) => [h.action, h.from.v2Percent, h.to.v2Percent, h.actor])).toEqual([
      ["move", 0, 100, "test"],
      ["move", 100, 0, "test"],
    ]);
  });

  it("after the move started, v1 answers carry Deprecation, Sunset and a successor Link; v2 does not", async () => {
    const config = await readRelease(release);
    expect(config.moveStartedAt).toBeDefined();
    const v1 = await get(server, `/v1${byContext()}`, A);
    expect(v1.headers.get("deprecation")).toBe(`@${Math.floor(Date.parse(config.moveStartedAt as string) / 1000)}`);
    expect(new Date(v1.headers.get("sunset") as string).getTime()).toBe(Math.floor(Date.parse(config.sunsetAt as string) / 1000) * 1000);
    expect(v1.headers.get("link")).toBe(`</v2/workflows>; rel="successor-version"`);
    const v2 = await get(server, `/v2${byContext()}`, A);
    expect(v2.headers.get("deprecation")).toBeNull();
  });

  it("Accept-Version and pins override the split; the path overrides everything", async () => {
    await moveRelease(release, { to: "v2", actor: "test" });
    await pinTenant(release, B, "v1", "test");
    await new Promise((r) => setTimeout(r, 2_100));
    expect((await get(server, byContext(), A)).headers.get("x-api-version")).toBe("v2");
    expect((await get(server, byContext(), B)).headers.get("x-api-version")).toBe("v1");
    expect((await get(server, byContext(), A, { "accept-version": "1" })).headers.get("x-api-version")).toBe("v1");
    expect((await get(server, `/v2${byContext()}`, B)).headers.get("x-api-version")).toBe("v2");
    await pinTenant(release, B, undefined, "test");
  });
});

describe("the canary split", () => {
  it("sends the chosen share of tenants to v2, stable per tenant, and only adds tenants as it grows", () => {
    const tenants = Array.from({ length: 10_000 }, (_, i) => `tenant-${i}`);
    const at = (v2Percent: number): ReleaseConfig => ({ ...INITIAL_RELEASE, v2Percent });
    for (const percent of [1, 10, 30, 50, 90]) {
      const onV2 = tenants.filter((tenant) => versionFor(at(percent), tenant).version === "v2").length;
      // Binomial sd at n=10,000 is at most 50 tenants: allow 4 sd.
      expect(Math.abs(onV2 - percent * 100), `${percent}%`).toBeLessThan(200);
    }
    for (const tenant of tenants.slice(0, 500)) {
      expect(versionFor(at(30), tenant)).toEqual(versionFor(at(30), tenant));
      if (versionFor(at(30), tenant).version === "v2") expect(versionFor(at(60), tenant).version).toBe("v2");
      expect(tenantBucket(tenant)).toBe(tenantBucket(tenant));
    }
  });

  it("splits real requests by tenant over HTTP within tolerance", async () => {
    const location = { ...release, migrationId: "canary-only" };
    const server = await apiServer(t, { migrations: { byContext: "canary-only" } });
    try {
      await moveRelease(location, { to: "v2", percent: 25, actor: "test" });
      const tenants = Array.from({ length: 300 }, (_, i) => `canary-${i}`);
      const versions = await Promise.all(tenants.map(async (tenant) => (await get(server, byContext(), tenant)).headers.get("x-api-version")));
      const onV2 = versions.filter((v) => v === "v2").length;
      // Expected 75, sd 7.5.
      expect(onV2).toBeGreaterThan(45);
      expect(onV2).toBeLessThan(105);
      // Sticky: asking again gives each tenant the same version.
      for (const [i, tenant] of tenants.slice(0, 40).entries()) {
        expect((await get(server, byContext(), tenant)).headers.get("x-api-version")).toBe(versions[i]);
      }
    } finally {
      await server.close();
    }
  });
});

describe("shadow reads", () => {
  it("record agreement, then detect a planted disagreement naming the workflow", async () => {
    const location = { ...release, migrationId: "shadow-test" };
    const server = await apiServer(t, { migrations: { byContext: "shadow-test" }, random: () => 0, shadowRecheck: { recheckAfterMs: 50, rechecks: 2 } });
    try {
      await moveRelease(location, { to: "v2", percent: 100, shadow: 100, actor: "test" });
      // Act 1: a consistent table agrees.
      for (const ctx of [contextId(0), contextId(1), contextId(2)]) expect((await get(server, byContext(ctx), A)).status).toBe(200);
      await server.deps.background.drain();
      const agreed = await readShadowStats(location);
      expect(agreed).toMatchObject({ compared: 3, agreed: 3, disagreed: 0, errors: 0, agreement: 1, agreementAfterRecheck: 1 });

      // Act 2: plant a defect: one index record missing, so v2 misses a workflow v1 finds.
      const ctx = contextId(4);
      const victim = expectedByContext(t.workflows, A, ctx)[0] as string;
      await t.clients.doc.send(new DeleteCommand({ TableName: t.table, Key: { PK: A, SK: `CTX#${ctx}#WF#${victim}` } }));
      await get(server, byContext(ctx), A);
      await server.deps.background.drain();

      // Assert
      const stats = await readShadowStats(location);
      expect(stats).toMatchObject({ compared: 4, agreed: 3, disagreed: 1, lagged: 0, persistent: 1 });
      expect(stats.disagreements[0]).toMatchObject({ tenant: A, primary: "v2", onlyPrimary: [], onlyShadow: [victim], rechecks: 2 });
    } finally {
      await server.close();
    }
  });
});

describe("retirement and usage counters", () => {
  it("counts requests per version, and after remove retires v1, /v1 is 410 Gone and unversioned is v2", async () => {
    const location = { ...release, migrationId: "retire-test" };
    const server = await apiServer(t, { migrations: { byContext: "retire-test" } });
    const since = Date.now();
    try {
      for (let i = 0; i < 3; i++) await get(server, `/v1${byContext()}`, A);
      await get(server, `/v2${byContext()}`, A);
      await moveRelease(location, { to: "v2", actor: "test" });
      await setV1Retired(location, true, "test", "remove step");
      await new Promise((r) => setTimeout(r, 300));
      const gone = await get(server, `/v1${byContext()}`, A);
      expect(gone.status).toBe(410);
      expect(gone.body.error.code).toBe("gone");
      expect(gone.headers.get("link")).toBe(`</v2/workflows>; rel="successor-version"`);
      // Unversioned with Accept-Version: 1: the successor is the v2 path, not the same path again.
      const byHeader = await get(server, byContext(), A, { "accept-version": "1" });
      expect(byHeader.status).toBe(410);
      expect(byHeader.headers.get("link")).toBe(`</v2/workflows>; rel="successor-version"`);
      expect(byHeader.body.error.message).toMatch(/call \/v2\/workflows instead/);
      expect((await get(server, byContext(), A)).headers.get("x-api-version")).toBe("v2");
    } finally {
      await server.close();
    }
    const v1 = await readUsage(location, "v1", since - 60_000);
    const v2 = await readUsage(location, "v2", since - 60_000);
    expect(v1.requestsSince).toBe(3);
    expect(v2.requestsSince).toBe(2);
    expect(v1.lastUsedAt).toBeGreaterThanOrEqual(since);
    await expect(moveRelease(location, { to: "v1", actor: "test" })).rejects.toThrow(/retired/);
  });
});

describe("usage declared before v1 answers (the remove guard's view)", () => {
  it("a v1 answer waits for the server record; when it cannot be written the request gets 503 with Retry-After, v2 is unaffected", async () => {
    // Arrange: a client whose server-record writes fail while `broken` is set.
    const clients = testClients();
    let broken = true;
    clients.raw.middlewareStack.add(
      ((next: (a: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: { input: { Item?: { SK?: string | { S?: string } } } }) => {
        const sk = args.input.Item?.SK;
        if (broken && /^Put(Item)?Command$/.test(context.commandName ?? "") && (typeof sk === "string" ? sk : sk?.S)?.startsWith("server#")) {
          throw Object.assign(new Error("injected: control table unavailable"), { name: "InternalServerError" });
        }
        return next(args);
      }) as never,
      { step: "initialize", priority: "high", name: "test-break-server-record" },
    );
    const location = { ...release, migrationId: "declare-test" };
    const before = Date.now();
    const server = await apiServer(t, { doc: clients.doc, migrations: { byContext: "declare-test" }, logError: () => {} });
    try {
      // Act
      const refused = await get(server, `/v1${byContext()}`, A);
      const v2 = await get(server, `/v2${byContext()}`, A);
      broken = false;
      const served = await get(server, `/v1${byContext()}`, A);
      const records = await readServerRecords(location);

      // Assert
      expect(refused.status).toBe(503);
      expect(refused.headers.get("retry-after")).toBe("1");
      expect(refused.body.error).toMatchObject({ code: "usage_unrecorded", message: expect.stringMatching(/could not be recorded.*retry/) });
      expect(v2.status).toBe(200);
      expect(served.status).toBe(200);
      // Declared before the answer, long before the 5 s flush.
      expect(records).toHaveLength(1);
      // (The refused request counts too: its client still calls v1.)
      expect(records[0]?.holdsV1Since).toBeGreaterThanOrEqual(before);
      expect(records[0]?.until).toBeGreaterThan(Date.now());
    } finally {
      await server.close();
    }
    // A clean stop flushed both v1 requests it counted and recorded that it holds nothing.
    const [closed] = await readServerRecords(location);
    expect(closed).toMatchObject({ stoppedAt: expect.any(Number) });
    expect(closed?.holdsV1Since).toBeUndefined();
    expect((await readUsage(location, "v1", before - 60_000)).requestsSince).toBe(2);
  });
});

describe("usage counter flushes", () => {
  it("a failed flush loses nothing and does not stop later flushes: the next one writes every count", async () => {
    // Arrange: the first UpdateItem of the counts fails.
    const clients = testClients();
    let failures = 1;
    clients.raw.middlewareStack.add(
      ((next: (a: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
        if (failures > 0 && /^Update(Item)?Command$/.test(context.commandName ?? "")) {
          failures--;
          throw Object.assign(new Error("injected: throttled"), { name: "ThrottlingException" });
        }
        return next(args);
      }) as never,
      { step: "initialize", priority: "high", name: "test-fail-first-usage-update" },
    );
    const location = { doc: clients.doc, controlTable: t.controlTable, migrationId: "flush-retry-test" };
    const counter = new UsageCounter(location, { onError: () => {} });
    const since = Date.now();

    // Act
    for (let i = 0; i < 3; i++) await counter.record("v1").ready;
    await expect(counter.flush()).rejects.toThrow(/throttled/);
    counter.record("v2");
    await counter.flush();
    await counter.stop();

    // Assert
    expect((await readUsage(location, "v1", since - 60_000)).requestsSince).toBe(3);
    expect((await readUsage(location, "v2", since - 60_000)).requestsSince).toBe(1);
    const [record] = await readServerRecords(location);
    expect(record).toMatchObject({ stoppedAt: expect.any(Number) });
    expect(record?.holdsV1Since).toBeUndefined();
  });
});

describe("release summary (ferry status)", () => {
  it("shows the split, shadow agreement, usage and the audit trail", async () => {
    const { readReleaseSummary, describeReleaseSummary } = await import("@ferry/core/release/summary");
    const location = { ...release, migrationId: "summary-test" };
    await moveRelease(location, { to: "v2", percent: 20, shadow: 5, actor: "alice", reason: "canary" });
    const summary = await readReleaseSummary(location);
    expect(summary.split).toBe("v2 for 20% of tenants, v1 for the rest");
    expect(summary.recentChanges).toEqual([expect.objectContaining({ actor: "alice", reason: "canary", to: { v2Percent: 20, shadowPercent: 5 } })]);
    const text = describeReleaseSummary(summary).join("\n");
    expect(text).toMatch(/traffic: v2 for 20% of tenants/);
    expect(text).toMatch(/shadow agreement: no comparisons yet/);
    expect(text).toMatch(/alice: move v2 0% -> 20%, shadow 0% -> 5% \(canary\)/);
  });
});
