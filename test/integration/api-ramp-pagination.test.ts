// The hidden-style check of issue 18: during a ramp of "workflows by context" from 0% to
// 100% of tenants on v2 and a flip back, paginating every context of every tenant on /v1,
// /v2 and the unversioned path answers exactly the expected set, each workflow once; and a
// pagination started before a move finishes on the version it started on.
import { contextId, tenantId } from "@ferry/example-workflows";
import { tenantBucket } from "@ferry/core/release/config";
import { moveRelease } from "@ferry/core/release/store";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalApiServer } from "../../examples/workflows/src/api/local-server.ts";
import { type ConvertedTable, apiServer, convertedTable, expectedByContext, get, getAll } from "../support/api.ts";

const BY_CONTEXT = "0001_workflow-context-index";
const TENANTS = Array.from({ length: 5 }, (_, i) => tenantId(i));
const CONTEXTS = Array.from({ length: 3 }, (_, i) => contextId(i));
let t: ConvertedTable;
let server: LocalApiServer;

beforeAll(async () => {
  // 5 tenants (canary buckets 7, 76, 51, 15, 51) x 30 workflows, 2 contexts each from a pool of 3: ~20 matches per context.
  t = await convertedTable({ tenants: TENANTS.length, workflows: 30, contexts: 2, pool: CONTEXTS.length, tasks: 1, itemKb: 2, seed: 29 });
  server = await apiServer(t, { release: { cacheMs: 100 } });
}, 60_000);
afterAll(async () => server?.close());

const release = () => ({ doc: t.clients.doc, controlTable: t.controlTable, migrationId: BY_CONTEXT });

/** The version the unversioned path gives `tenant` at `percent`, as the canary buckets say. */
const versionAt = (tenant: string, percent: number) => (tenantBucket(tenant) < percent ? "v2" : "v1");

async function moveTo(percent: number) {
  await moveRelease(release(), { to: percent === 0 ? "v1" : "v2", percent, actor: "test" });
  // Every server sees a move within its cache time; wait until this one answers the new split.
  const probe = TENANTS.find((tenant) => versionAt(tenant, percent) === (percent === 0 ? "v1" : "v2")) as string;
  for (let i = 0; i < 100; i++) {
    const res = await get(server, `/workflows?context=${CONTEXTS[0]}&limit=1`, probe);
    if (res.headers.get("x-api-version") === versionAt(probe, percent)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the server never served the ${percent}% split`);
}

describe("paginating every context during a ramp and a flip back", () => {
  it("v1, v2 and unversioned answer the expected set of every tenant's every context at each step", async () => {
    // The ramp only means something if it splits these tenants.
    expect(new Set(TENANTS.map((tenant) => versionAt(tenant, 50))).size).toBe(2);

    for (const percent of [0, 25, 50, 100, 0]) {
      // Act: move, then paginate everything with pages of 7.
      await moveTo(percent);
      for (const tenant of TENANTS) {
        for (const ctx of CONTEXTS) {
          const expected = expectedByContext(t.workflows, tenant, ctx);
          for (const path of [`/v1/workflows?context=${ctx}&limit=7`, `/v2/workflows?context=${ctx}&limit=7`, `/workflows?context=${ctx}&limit=7`]) {
            const { ids } = await getAll(server, path, tenant);
            // Assert: the expected set, each once, in key order.
            expect(ids, `${tenant} ${path} at ${percent}%`).toEqual(expected);
          }
        }
        // The unversioned path serves the tenant's canary version.
        const res = await get(server, `/workflows?context=${CONTEXTS[1]}&limit=7`, tenant);
        expect(res.headers.get("x-api-version"), `${tenant} at ${percent}%`).toBe(versionAt(tenant, percent));
      }
    }
  });

  it("a pagination started before a move finishes on its version with the expected set", async () => {
    // Arrange: a tenant the ramp moves, half-way through an unversioned pagination on v1.
    await moveTo(0);
    const tenant = TENANTS.find((x) => versionAt(x, 100) === "v2") as string;
    const ctx = CONTEXTS[2] as string;
    const expected = expectedByContext(t.workflows, tenant, ctx);
    expect(expected.length).toBeGreaterThan(6);
    const first = await get(server, `/workflows?context=${ctx}&limit=3`, tenant);
    expect(first.headers.get("x-api-version")).toBe("v1");
    const ids: string[] = first.body.items.map((i: { id: string }) => i.id);

    // Act: move every tenant to v2, then follow the token to the end.
    await moveTo(100);
    let token: string | null = first.body.nextToken;
    while (token) {
      const page = await get(server, `/workflows?context=${ctx}&limit=3&nextToken=${encodeURIComponent(token)}`, tenant);
      expect(page.status).toBe(200);
      // Assert: the token keeps the pagination on the version that issued it.
      expect(page.headers.get("x-api-version")).toBe("v1");
      ids.push(...page.body.items.map((i: { id: string }) => i.id));
      token = page.body.nextToken;
    }
    expect(ids).toEqual(expected);
    // A new pagination starts on v2 and answers the same set.
    const fresh = await get(server, `/workflows?context=${ctx}&limit=1000`, tenant);
    expect(fresh.headers.get("x-api-version")).toBe("v2");
    expect(fresh.body.items.map((i: { id: string }) => i.id)).toEqual(expected);
  });
});
