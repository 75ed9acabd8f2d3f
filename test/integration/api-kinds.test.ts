// The example's migrations of the two new kinds over real HTTP on DynamoDB Local: after the
// lifecycle converted them (0003 sets the byStatus GSI's keys in place, 0004 copies into
// WorkflowsByContext) and moved them to v2, v1 and v2 of "workflows by status" and of
// "workflows by context" on the copy answer the same items, in the same order, page by page.
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { batchPutAll, ensureTable, loadMigration, type Migration } from "@ferry/core";
import { ensureControlTable } from "@ferry/core/control/control-table";
import { migrationOnTable } from "@ferry/core/definition/table-keys";
import { addStep, convertStep, lifecycleContext, moveStep } from "@ferry/core/lifecycle/lifecycle";
import { readRelease, setV1Retired } from "@ferry/core/release/store";
import { WORKFLOWS_BY_CONTEXT_TABLE, contextId, generateWorkflows, tenantId } from "@ferry/example-workflows";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalApiServer } from "../../examples/workflows/src/api/local-server.ts";
import { type ConvertedTable, type Item, apiServer, expectedByContext, get } from "../support/api.ts";
import { dropTable, freshExampleTable, scanAll, testClients, uniqueTableName } from "../support/dynamo.ts";
import { beat } from "../support/lifecycle.ts";
import { eventually, send, workflowBody } from "../support/writes.ts";

const A = tenantId(0);
const B = tenantId(1);
const STATUSES = ["TO_DO", "IN_PROGRESS", "COMPLETED", "CANCELLED"];
let t: ConvertedTable;
let target: string;
let server: LocalApiServer;
let m3: Migration;
let m4: Migration;

/**
 * The lifecycle's add (its guards: check on generated and sampled items, the index or target
 * table exists), a fresh dual-write heartbeat, convert, and a move of every tenant to v2 (verify
 * clean, the kind's move guards).
 */
async function convertAndMove(migration: Migration) {
  const ctx = lifecycleContext({ clients: t.clients, tableName: t.table, controlTable: t.controlTable, migration, actor: "test" });
  const added = await addStep(ctx);
  expect(added.completed).toBe(true);
  await beat(ctx, Date.now());
  const converted = await convertStep(ctx, { settings: { segments: 2, rate: 100_000 } });
  expect(converted.completed).toBe(true);
  const moved = await moveStep(ctx, { to: "v2", percent: 100, verify: { recheckAfterMs: 0 } });
  expect(moved.state.verification).toMatchObject({ clean: true });
}

beforeAll(async () => {
  // 2 tenants x 80 workflows, v1 reading 40 items per DynamoDB page (as AWS stops at 1 MB): a
  // tenant's partition is 2+ pages; ~27 workflows per status, 40 per context.
  const clients = testClients();
  // add needs the stream; 160 items keep DynamoDB Local's stream slowdown out of the way.
  const table = await freshExampleTable(clients, "kinds");
  target = uniqueTableName("wbc");
  await ensureTable(clients.raw, WORKFLOWS_BY_CONTEXT_TABLE, target, { stream: false });
  const workflows = [...generateWorkflows({ tenants: 2, workflows: 80, contexts: 2, pool: 4, tasks: 1, itemKb: 1, seed: 23 })] as Item[];
  await batchPutAll(clients.doc, table, workflows);
  t = { clients, table, controlTable: `${table}.ferry`, workflows };
  await ensureControlTable(clients.raw, t.controlTable);
  m3 = await loadMigration("0003");
  // The copy goes to this test's target table (a stage names its own with FERRY_TARGET_TABLE).
  m4 = await migrationOnTable(clients.raw, await loadMigration("0004"), table, { FERRY_TARGET_TABLE: target });
  await convertAndMove(m3);
  await convertAndMove(m4);
  server = await apiServer(t, { byContextTable: target, v1: { pageLimit: 40 }, statusV1: { pageLimit: 40 } });
}, 120_000);
afterAll(async () => {
  await server?.close();
  await dropTable(t.clients, target);
});

/** Every page of `GET path` following nextToken: the items in order and the page count. */
async function collect(path: string, tenant: string): Promise<{ items: Item[]; pages: number }> {
  const items: Item[] = [];
  let pages = 0;
  let token: string | null = null;
  do {
    const res = await get(server, token ? `${path}&nextToken=${encodeURIComponent(token)}` : path, tenant);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.headers.get("x-api-version")).toBe(path.startsWith("/v1/") ? "v1" : "v2");
    items.push(...res.body.items);
    token = res.body.nextToken;
    pages++;
  } while (token);
  return { items, pages };
}

/** A tenant's workflow ids with `status`, by started_at then id: the byStatus index's order. */
function expectedByStatus(tenant: string, status: string): string[] {
  return t.workflows
    .filter((w) => w.PK === tenant && w.status === status)
    .map((w) => ({ id: String(w.SK).slice(3), position: `${w.started_at}#${w.SK}` }))
    .sort((a, b) => Buffer.compare(Buffer.from(a.position), Buffer.from(b.position)))
    .map((w) => w.id);
}

describe("after 0003 (kind attributes): workflows by status", () => {
  it("the lifecycle set the index keys on every workflow and on nothing else", async () => {
    const items = await scanAll(t.clients, t.table);
    const workflows = items.filter((i) => /^WF#[^#]+$/.test(String(i.SK)));
    expect(workflows).toHaveLength(160);
    for (const w of workflows) expect(w).toMatchObject({ byStatusPk: `${w.PK}#${w.status}`, byStatusSk: `${w.started_at}#${w.SK}` });
    expect(items.filter((i) => !/^WF#[^#]+$/.test(String(i.SK))).every((i) => i.byStatusPk === undefined)).toBe(true);
  });

  it("v1 (filtered partition) and v2 (one Query on the GSI) answer the same items in the same order, across pages, for each status and tenant", async () => {
    for (const tenant of [A, B]) {
      for (const status of STATUSES) {
        const expected = expectedByStatus(tenant, status);
        // The generator deals three statuses; CANCELLED is empty on both versions.
        if (status !== "CANCELLED") expect(expected.length).toBeGreaterThan(7);
        for (const limit of [7, 1000]) {
          // Act
          const v1 = await collect(`/v1/workflows/by-status/${status}?limit=${limit}`, tenant);
          const v2 = await collect(`/v2/workflows/by-status/${status}?limit=${limit}`, tenant);
          // Assert: the same answer, item for item (fields included), each workflow once.
          expect(v1.items.map((i) => i.id)).toEqual(expected);
          expect(v2.items).toEqual(v1.items);
          expect(v1.pages).toBeGreaterThanOrEqual(Math.ceil(expected.length / limit));
          expect(v2.pages).toBeGreaterThanOrEqual(Math.ceil(expected.length / limit));
        }
      }
    }
  });

  it("answers id and the listed fields only, never keys, index keys or tasks; unversioned follows the move to v2", async () => {
    const res = await get(server, "/workflows/by-status/IN_PROGRESS?limit=3", A);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-api-version")).toBe("v2");
    expect((await readRelease({ doc: t.clients.doc, controlTable: t.controlTable, migrationId: m3.id })).v2Percent).toBe(100);
    for (const item of res.body.items) {
      expect(item.status).toBe("IN_PROGRESS");
      for (const hidden of ["PK", "SK", "byStatusPk", "byStatusSk", "tasks", "ferry"]) expect(item).not.toHaveProperty(hidden);
    }
    expect(typeof res.body.nextToken).toBe("string");
  });

  it("refuses an unknown status (400 naming the statuses) and a v1 token on v2 (400)", async () => {
    const bad = await get(server, "/v2/workflows/by-status/DONE", A);
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/status must be one of TO_DO, IN_PROGRESS, COMPLETED, CANCELLED/);
    const first = await get(server, "/v1/workflows/by-status/TO_DO?limit=2", A);
    const crossed = await get(server, `/v2/workflows/by-status/TO_DO?limit=2&nextToken=${encodeURIComponent(first.body.nextToken)}`, A);
    expect(crossed.status).toBe(400);
  });
});

describe("after 0004 (kind table): workflows by context on the copy", () => {
  it("the lifecycle copied one record per (workflow, context) into the target table and nothing into the source", async () => {
    const copied = await scanAll(t.clients, target);
    expect(copied).toHaveLength(t.workflows.reduce((n, w) => n + new Set((w.contexts as { id: string }[]).map((c) => c.id)).size, 0));
    const source = await scanAll(t.clients, t.table);
    expect(source.filter((i) => !/^WF#[^#]+$/.test(String(i.SK)))).toEqual([]);
  });

  it("v1 (filtered partition) and v2 (one Query on WorkflowsByContext) answer the same items in the same order, across pages", async () => {
    for (const tenant of [A, B]) {
      for (const ctx of [contextId(0), contextId(3)]) {
        const expected = expectedByContext(t.workflows, tenant, ctx);
        expect(expected.length).toBe(40);
        for (const limit of [7, 1000]) {
          const v1 = await collect(`/v1/workflows/by-context/${ctx}?limit=${limit}`, tenant);
          const v2 = await collect(`/v2/workflows/by-context/${ctx}?limit=${limit}`, tenant);
          expect(v1.items.map((i) => i.id)).toEqual(expected);
          expect(v2.items).toEqual(v1.items);
          expect(v2.pages).toBeGreaterThanOrEqual(Math.ceil(40 / limit));
        }
      }
    }
  });

  it("a context of another tenant is empty on both versions (the copy's partition holds the tenant)", async () => {
    const ctx = contextId(1);
    const v1 = await collect(`/v1/workflows/by-context/${ctx}?limit=10`, "t-nobody");
    const v2 = await collect(`/v2/workflows/by-context/${ctx}?limit=10`, "t-nobody");
    expect(v1.items).toEqual([]);
    expect(v2.items).toEqual([]);
  });
});

// Last: it retires 0003's v1 on this file's table.
describe("after remove of 0003: the application owns the byStatus keys", () => {
  it("v2 creates and updates set the index keys themselves (no dual-write runs here), so v2's index answers new and changed workflows", async () => {
    // Arrange: the remove step's first act, v1 retired.
    await setV1Retired({ doc: t.clients.doc, controlTable: t.controlTable, migrationId: m3.id }, true, "test", "remove step");
    await eventually("v1 by status to be retired on the server", async () =>
      (await get(server, "/v1/workflows/by-status/TO_DO?limit=1", A)).status === 410 ? true : undefined,
    );
    const stored = async (id: string) =>
      (await t.clients.doc.send(new GetCommand({ TableName: t.table, Key: { PK: A, SK: `WF#${id}` }, ConsistentRead: true }))).Item as Item;
    const listed = async (status: string) => (await collect(`/v2/workflows/by-status/${status}?limit=1000`, A)).items.map((i) => i.id);

    // Act 1: a create.
    const created = await send(server, "POST", "/v2/workflows", A, workflowBody("after 0003"));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = String(created.body.id);
    const item = await stored(id);
    expect(item).toMatchObject({ byStatusPk: `${A}#IN_PROGRESS`, byStatusSk: `${item.started_at}#WF#${id}` });
    expect(await listed("IN_PROGRESS")).toContain(id);

    // Act 2: a status change moves it in the index; a started_at change re-sorts it.
    const moved = await send(server, "PATCH", `/v2/workflows/${id}`, A, { status: "COMPLETED" });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect(await stored(id)).toMatchObject({ status: "COMPLETED", byStatusPk: `${A}#COMPLETED` });
    expect(await listed("IN_PROGRESS")).not.toContain(id);
    expect(await listed("COMPLETED")).toContain(id);
    const started = "2020-01-01T00:00:00.000Z";
    expect((await send(server, "PATCH", `/v2/workflows/${id}`, A, { started_at: started })).status).toBe(200);
    expect(await stored(id)).toMatchObject({ byStatusPk: `${A}#COMPLETED`, byStatusSk: `${started}#WF#${id}` });
    // The earliest started: first in the index's order.
    expect((await listed("COMPLETED"))[0]).toBe(id);

    // Act 3: a stale If-Match is still a 409, with nothing written.
    const before = await stored(id);
    const stale = await send(server, "PATCH", `/v2/workflows/${id}`, A, { status: "TO_DO" }, { "if-match": "1" });
    expect(stale.status).toBe(409);
    expect(await stored(id)).toEqual(before);
  });
});
