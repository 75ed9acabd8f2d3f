// The write routes over real HTTP on DynamoDB Local with both dual-writes running: every route
// on v1 and v2, read-your-writes across versions within the dual-write's lag, concurrent
// updates (409, nothing lost), tenant isolation, bad bodies, a ramp and a flip back, and
// writes after remove (v2 on the task records directly).
import { GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { OWNER_ATTRIBUTE } from "@ferry/core";
import { tenantId } from "@ferry/example-workflows";
import { removeOldAttributes } from "@ferry/core/cleanup/remove-attributes";
import { tenantBucket } from "@ferry/core/release/config";
import { moveRelease, setV1Retired } from "@ferry/core/release/store";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiServer, get } from "../support/api.ts";
import { testClients } from "../support/dynamo.ts";
import { type Item, type LiveApi, converged, eventually, liveApi, m2, send, snapshot, taskBody, workflowBody } from "../support/writes.ts";

const A = tenantId(0);
const B = tenantId(1);
const M2 = "0002_split-workflow-tasks";
let live: LiveApi;
/** Dual-write lags measured by the tests (ms from the write's answer to its derived record in the table). */
const lags: number[] = [];

beforeAll(async () => {
  live = await liveApi({ tenants: 2, workflows: 6, contexts: 2, pool: 4, tasks: 2, itemKb: 1, seed: 21 });
}, 60_000);
afterAll(async () => {
  await live?.stop();
  if (lags.length) console.log(`dual-write lag seen by the write tests: max ${Math.max(...lags)} ms over ${lags.length} writes`);
});

const stored = async (pk: string, sk: string) =>
  (await live.clients.doc.send(new GetCommand({ TableName: live.table, Key: { PK: pk, SK: sk }, ConsistentRead: true }))).Item;
const taskIds = async (version: "v1" | "v2", tenant: string, id: string) => {
  const res = await get(live.server, `/${version}/workflows/${id}/tasks`, tenant);
  return res.status === 200 ? (res.body.items as Item[]).map((t) => String(t.id)) : res.status;
};

/**
 * Read-your-writes on v2: polls the v2 answer and the dual-write's record in the same loop.
 * The record's time is the dual-write's lag for this write; v2 must show the write no later
 * than one poll after it (it reads exactly those records).
 */
async function v2SeesWithinLag(what: string, recordDone: () => Promise<boolean>, v2Done: () => Promise<boolean>) {
  const started = Date.now();
  let recordAt: number | undefined;
  let v2At: number | undefined;
  await eventually(what, async () => {
    // The record's time: when a read found it (an upper bound of the lag); v2's: when the read that found it began.
    if (recordAt === undefined && (await recordDone())) recordAt = Date.now() - started;
    const asked = Date.now() - started;
    if (v2At === undefined && (await v2Done())) v2At = asked;
    return recordAt !== undefined && v2At !== undefined ? true : undefined;
  });
  lags.push(recordAt as number);
  // v2 reads the records the dual-write writes: it sees the write in the poll the record appears in, or the next.
  expect(v2At as number, what).toBeLessThanOrEqual((recordAt as number) + 250);
  return { recordAt, v2At };
}

describe("every write route on both versions", () => {
  it.each(["v1", "v2"] as const)(
    "%s: create, update, add/update/delete a task and delete a workflow; v1 sees each at once, v2 within the dual-write's lag",
    async (version) => {
      // Act 1: create, with a context (0001 derives its index record).
      const ctx = `ctx-w-${version}`;
      const created = await send(live.server, "POST", `/${version}/workflows`, A, workflowBody(`made on ${version}`, [ctx]));
      expect(created.status).toBe(201);
      const id = String(created.body.id);
      expect(created.headers.get("location")).toBe(`/${version}/workflows/${id}`);
      expect(created.headers.get("etag")).toBe('"1"');
      expect(created.body).toMatchObject({ id, name: `made on ${version}`, status: "IN_PROGRESS", revision: 1 });
      expect("tasks" in created.body).toBe(version === "v1");
      // Assert: the old model holds it (v1 at once), v2's list by context after the dual-write.
      expect((await get(live.server, `/v1/workflows/${id}`, A)).body).toMatchObject({ id, name: `made on ${version}`, tasks: [] });
      await v2SeesWithinLag(
        `${version} create in v2's context list`,
        async () => Boolean(await stored(A, `CTX#${ctx}#WF#${id}`)),
        async () => (await get(live.server, `/v2/workflows?context=${ctx}`, A)).body.items?.some((w: Item) => w.id === id),
      );

      // Act 2: update the workflow's fields.
      const updated = await send(live.server, "PATCH", `/${version}/workflows/${id}`, A, { name: "renamed", description: "d" });
      expect(updated.status).toBe(200);
      expect(updated.body).toMatchObject({ id, name: "renamed", description: "d", revision: 2 });
      expect((await get(live.server, `/v2/workflows/${id}`, A)).body).toMatchObject({ name: "renamed", description: "d" });

      // Act 3: add two tasks, update one, delete the other.
      const first = await send(live.server, "POST", `/${version}/workflows/${id}/tasks`, A, taskBody("Buy"));
      const second = await send(live.server, "POST", `/${version}/workflows/${id}/tasks`, A, taskBody("Ship"));
      expect([first.status, second.status]).toEqual([201, 201]);
      expect(first.body).toMatchObject({ id: expect.any(String), name: "Buy", status: "TO_DO", assignees: ["202"] });
      expect(second.headers.get("etag")).toBe('"4"');
      const [t1, t2] = [String(first.body.id), String(second.body.id)];
      expect(await taskIds("v1", A, id)).toEqual([t1, t2]);
      await v2SeesWithinLag(
        `${version} tasks added, on v2`,
        async () => Boolean((await stored(A, `WF#${id}#TASK#${t1}`)) && (await stored(A, `WF#${id}#TASK#${t2}`))),
        async () => JSON.stringify(await taskIds("v2", A, id)) === JSON.stringify([t1, t2]),
      );
      const patched = await send(live.server, "PATCH", `/${version}/workflows/${id}/tasks/${t1}`, A, {
        status: "COMPLETED",
        completed_at: "2027-01-02T00:00:00Z",
      });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ id: t1, name: "Buy", status: "COMPLETED", completed_at: "2027-01-02T00:00:00Z" });
      const dropped = await send(live.server, "DELETE", `/${version}/workflows/${id}/tasks/${t2}`, A);
      expect(dropped.status).toBe(204);
      expect((await get(live.server, `/v1/workflows/${id}/tasks`, A)).body.items).toEqual([expect.objectContaining({ id: t1, status: "COMPLETED" })]);
      await v2SeesWithinLag(
        `${version} task updated and deleted, on v2`,
        async () => (await stored(A, `WF#${id}#TASK#${t1}`))?.status === "COMPLETED" && !(await stored(A, `WF#${id}#TASK#${t2}`)),
        async () => {
          const items = (await get(live.server, `/v2/workflows/${id}/tasks`, A)).body.items as Item[];
          return items.length === 1 && items[0]?.status === "COMPLETED";
        },
      );

      // Act 4: delete the workflow.
      expect((await send(live.server, "DELETE", `/${version}/workflows/${id}`, A)).status).toBe(204);
      expect((await get(live.server, `/v1/workflows/${id}`, A)).status).toBe(404);
      await v2SeesWithinLag(
        `${version} delete, on v2`,
        async () => !(await stored(A, `WF#${id}#TASK#${t1}`)) && !(await stored(A, `CTX#${ctx}#WF#${id}`)),
        async () => (await get(live.server, `/v2/workflows/${id}/tasks`, A)).status === 404,
      );
      expect((await send(live.server, "DELETE", `/${version}/workflows/${id}`, A)).status).toBe(404);
    },
  );

  it("v1 creates a workflow with embedded tasks; v2 refuses tasks in its create body", async () => {
    const v1 = await send(live.server, "POST", "/v1/workflows", B, { ...workflowBody("with tasks"), tasks: [taskBody("a"), taskBody("b")] });
    expect(v1.status).toBe(201);
    expect(v1.body.tasks.map((t: Item) => t.name)).toEqual(["a", "b"]);
    const v2 = await send(live.server, "POST", "/v2/workflows", B, { ...workflowBody("with tasks"), tasks: [taskBody("a")] });
    expect(v2.status).toBe(400);
    expect(v2.body.error.message).toMatch(/tasks: not a field of this body/);
  });
});

describe("concurrent writers", () => {
  it("two updates of one workflow with the same If-Match: one 200, one 409; the retry lands and nothing is lost", async () => {
    // Arrange
    const id = String((await send(live.server, "POST", "/v2/workflows", A, workflowBody("contended"))).body.id);
    const read = await get(live.server, `/v2/workflows/${id}`, A);
    const revision = read.body.revision as number;
    const base = read.body.assignees as string[];
    // Act: both clients add an assignee to what they read.
    const [x, y] = await Promise.all(
      ["alice", "bob"].map((who) => send(live.server, "PATCH", `/v2/workflows/${id}`, A, { assignees: [...base, who] }, { "if-match": `"${revision}"` })),
    );
    // Assert
    expect([x?.status, y?.status].sort()).toEqual([200, 409]);
    const loser = x?.status === 409 ? x : y;
    expect(loser?.body.error).toMatchObject({ code: "conflict", message: expect.stringMatching(/changed since revision \d+ .*read it again and retry/) });
    const again = await get(live.server, `/v2/workflows/${id}`, A);
    const retry = await send(
      live.server,
      "PATCH",
      `/v2/workflows/${id}`,
      A,
      { assignees: [...(again.body.assignees as string[]), loser === x ? "alice" : "bob"] },
      { "if-match": again.headers.get("etag") ?? `"${again.body.revision}"` },
    );
    expect(retry.status).toBe(200);
    expect([...(retry.body.assignees as string[])].sort()).toEqual([...base, "alice", "bob"].sort());
  });

  it("ten task adds racing on one workflow, on both versions: each is a 201 or a 409, and after retrying every task is there", async () => {
    const id = String((await send(live.server, "POST", "/v1/workflows", A, workflowBody("busy"))).body.id);
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        for (let attempt = 0; attempt < 20; attempt++) {
          const res = await send(live.server, "POST", `/${i % 2 ? "v1" : "v2"}/workflows/${id}/tasks`, A, taskBody(`task ${i}`));
          statuses.push(res.status);
          if (res.status === 201) return;
          expect(res.status).toBe(409);
        }
      }),
    );
    const names = ((await get(live.server, `/v1/workflows/${id}/tasks`, A)).body.items as Item[]).map((t) => t.name).sort();
    expect(names).toEqual(Array.from({ length: 10 }, (_, i) => `task ${i}`).sort());
    expect(statuses.filter((s) => s === 201)).toHaveLength(10);
    // The server's own read-modify-write raced: without the revision condition some tasks would be lost.
    console.log(`racing task adds: ${statuses.filter((s) => s === 409).length} conflicts answered 409`);
  });
});

describe("a write whose answer is lost", () => {
  it("is retried by the SDK and answered as the success it was: one workflow created, one task added, no 409 or 500", async () => {
    // Arrange: the first PutItem and UpdateItem answers on the data table are lost after DynamoDB applied them (timeouts the SDK retries).
    const lossy = testClients();
    const lost = new Set<string>();
    lossy.raw.middlewareStack.add(
      ((next: (a: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: { input: { TableName?: string } }) => {
        const out = await next(args);
        const name = context.commandName ?? "";
        if (/^(PutItem|UpdateItem)Command$/.test(name) && args.input.TableName === live.table && !lost.has(name)) {
          lost.add(name);
          throw Object.assign(new Error("injected: the answer was lost"), { name: "TimeoutError", $metadata: {} });
        }
        return out;
      }) as never,
      { step: "deserialize", name: "test-lose-first-answers" },
    );
    const server = await apiServer({ ...live, clients: lossy });
    try {
      // Act
      const created = await send(server, "POST", "/v2/workflows", A, workflowBody("lossy"));
      const added = await send(server, "POST", `/v2/workflows/${created.body.id}/tasks`, A, taskBody("once"));
      // Assert
      expect([...lost].sort()).toEqual(["PutItemCommand", "UpdateItemCommand"]);
      expect([created.status, added.status]).toEqual([201, 201]);
      expect(await taskIds("v1", A, String(created.body.id))).toEqual([added.body.id]);
      const named = (await snapshot(live.clients, live.table)).filter((i) => i.PK === A && i.name === "lossy" && /^WF#[^#]+$/.test(String(i.SK)));
      expect(named).toHaveLength(1);
    } finally {
      await server.close();
    }
  });
});

describe("tenant isolation", () => {
  it("another tenant's workflow id is a 404 on every write route and version, and nothing is written anywhere", async () => {
    const ofA = live.workflows.find((w) => w.PK === A) as Item;
    const id = String(ofA.SK).slice(3);
    const taskId = String((ofA.tasks as Item[])[0]?.id);
    await converged(live.clients, live.table);
    const before = await snapshot(live.clients, live.table);
    for (const version of ["v1", "v2", undefined]) {
      const p = version ? `/${version}` : "";
      for (const [method, path, body] of [
        ["PATCH", `${p}/workflows/${id}`, { name: "hijacked" }],
        ["DELETE", `${p}/workflows/${id}`, undefined],
        ["POST", `${p}/workflows/${id}/tasks`, taskBody("planted")],
        ["PATCH", `${p}/workflows/${id}/tasks/${taskId}`, { name: "hijacked" }],
        ["DELETE", `${p}/workflows/${id}/tasks/${taskId}`, undefined],
      ] as const) {
        const res = await send(live.server, method, path, B, body);
        expect(res.status, `${method} ${path}`).toBe(404);
        expect(res.body.error.code).toBe("not_found");
      }
    }
    expect(await snapshot(live.clients, live.table)).toEqual(before);
  });
});

describe("bad bodies", () => {
  it("each is a 400 naming the field, and nothing is written", async () => {
    const ofA = live.workflows.find((w) => w.PK === A) as Item;
    const id = String(ofA.SK).slice(3);
    const taskId = String((ofA.tasks as Item[])[0]?.id);
    const cases: [string, string, unknown, RegExp][] = [
      ["POST", "/v2/workflows", {}, /name: /],
      ["POST", "/v2/workflows", { name: "" }, /name: must not be empty/],
      ["POST", "/v1/workflows", { name: "x", status: "DONE" }, /status: /],
      ["POST", "/v2/workflows", { name: "x", contexts: [{ id: "a#b", name: "n" }] }, /contexts\[0\]\.id: must be 1-128 characters/],
      [
        "POST",
        "/v2/workflows",
        {
          name: "x",
          contexts: [
            { id: "c", name: "1" },
            { id: "c", name: "2" },
          ],
        },
        /contexts: lists a context id twice/,
      ],
      ["POST", "/v1/workflows", { name: "x", tasks: [{ name: "t" }] }, /tasks\[0\]\.dueDate: /],
      ["POST", "/v2/workflows", { name: "x", owner: "me" }, /owner: not a field of this body/],
      ["POST", "/v2/workflows", "{not json", /not valid JSON/],
      ["POST", "/v2/workflows", "", /body is empty/],
      ["POST", "/v2/workflows", [1, 2], /body: /],
      ["PATCH", `/v2/workflows/${id}`, {}, /changes nothing/],
      ["PATCH", `/v1/workflows/${id}`, { started_at: "yesterday" }, /started_at: must be an ISO 8601 date-time/],
      ["PATCH", `/v2/workflows/${id}`, { assignees: "101" }, /assignees: /],
      ["POST", `/v2/workflows/${id}/tasks`, { name: "t", dueDate: "2027-01-01T00:00:00Z", id: "mine" }, /id: not a field of this body/],
      ["PATCH", `/v1/workflows/${id}/tasks/${taskId}`, { status: 3 }, /status: /],
      ["PATCH", `/v2/workflows/${id}`, { name: "x" }, /If-Match must be a revision/],
    ];
    await converged(live.clients, live.table);
    const before = await snapshot(live.clients, live.table);
    for (const [method, path, body, message] of cases) {
      const headers: Record<string, string> = message.source.includes("If-Match") ? { "if-match": "yesterday" } : {};
      const res = await send(live.server, method, path, A, body, headers);
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      expect(res.body.error.code).toBe("bad_request");
      expect(res.body.error.message).toMatch(message);
      expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+/);
    }
    // Larger than any item can be: 413, also unread.
    const huge = await send(live.server, "PATCH", `/v2/workflows/${id}`, A, { description: "x".repeat(500_000) });
    expect(huge.status).toBe(413);
    expect(huge.body.error).toMatchObject({ code: "too_large", message: expect.stringMatching(/larger than 409600 bytes/) });
    expect(await snapshot(live.clients, live.table)).toEqual(before);
  });
});

describe("a ramp from 0% to 100% of tenants on v2 and a flip back", () => {
  it("writes on unversioned routes land once, on the version each tenant is given, and both versions read the same tasks", async () => {
    // Arrange: tenants on both sides of the 25% and 50% marks, each with a workflow.
    const release = { doc: live.clients.doc, controlTable: live.controlTable, migrationId: M2 };
    const byBucket = (lo: number, hi: number) =>
      Array.from({ length: 400 }, (_, i) => `ramp-${i}`).find((t) => tenantBucket(t) >= lo && tenantBucket(t) < hi) as string;
    const tenants = [byBucket(0, 25), byBucket(25, 50), byBucket(50, 100), byBucket(60, 100)];
    const ids = new Map<string, string>();
    for (const tenant of tenants) ids.set(tenant, String((await send(live.server, "POST", "/workflows", tenant, workflowBody(tenant))).body.id));
    const expected = new Map<string, string[]>(tenants.map((t) => [t, []]));

    // Act: at each step every tenant adds a task and renames its workflow through the unversioned routes.
    const steps = [0, 25, 50, 100, 0] as const;
    for (const [i, percent] of steps.entries()) {
      await moveRelease(release, { to: percent === 0 ? "v1" : "v2", percent, actor: "test" });
      const onV2 = (tenant: string) => tenantBucket(tenant) < percent;
      // The servers see the move within their cache time (200 ms here).
      await eventually("the move to reach the server", async () => {
        const res = await get(live.server, `/workflows/${ids.get(tenants[0] as string)}`, tenants[0] as string);
        return res.headers.get("x-api-version") === (onV2(tenants[0] as string) ? "v2" : "v1") ? true : undefined;
      });
      await new Promise((r) => setTimeout(r, 250));
      for (const tenant of tenants) {
        const id = ids.get(tenant) as string;
        const added = await send(live.server, "POST", `/workflows/${id}/tasks`, tenant, taskBody(`step ${i}`));
        const renamed = await send(live.server, "PATCH", `/workflows/${id}`, tenant, { name: `${tenant} at ${percent}%` });
        expect([added.status, renamed.status], `${tenant} at ${percent}%`).toEqual([201, 200]);
        const version = onV2(tenant) ? "v2" : "v1";
        expect([added.headers.get("x-api-version"), renamed.headers.get("x-api-version")]).toEqual([version, version]);
        expect("tasks" in renamed.body).toBe(version === "v1");
        expected.get(tenant)?.push(String(added.body.id));
      }
    }

    // Assert: every write once, in order, on both versions, and the new model is derive() of the old.
    for (const tenant of tenants) {
      const id = ids.get(tenant) as string;
      expect(await taskIds("v1", tenant, id)).toEqual(expected.get(tenant));
      await eventually(`${tenant}'s tasks on v2`, async () =>
        JSON.stringify(await taskIds("v2", tenant, id)) === JSON.stringify(expected.get(tenant)) ? true : undefined,
      );
      expect((await get(live.server, `/v2/workflows/${id}`, tenant)).body.name).toBe(`${tenant} at 0%`);
    }
    await converged(live.clients, live.table);
    expect(await live.deadLetters()).toEqual([]);
  });
});

describe("after remove", () => {
  it("v1 writes are 410; v2 writes an item the cleanup has not reached through the old model (a cleanup racing the write is a 409), then the task records directly, unstamped", async () => {
    // Arrange: everyone on v2, v1 retired (the remove step's first act), the cleanup not run yet.
    const release = { doc: live.clients.doc, controlTable: live.controlTable, migrationId: M2 };
    const id = String((await send(live.server, "POST", "/v1/workflows", A, { ...workflowBody("kept"), tasks: [taskBody("old one")] })).body.id);
    const oldTask = String((await get(live.server, `/v1/workflows/${id}/tasks`, A)).body.items[0].id);
    await moveRelease(release, { to: "v2", actor: "test" });
    await setV1Retired(release, true, "test", "remove step");
    await eventually("v1 to be retired on the server", async () =>
      (await send(live.server, "POST", "/v1/workflows", A, workflowBody("x"))).status === 410 ? true : undefined,
    );

    // Act 1: a v2 write before the cleanup reached the item: it still holds the embedded tasks.
    const early = await send(live.server, "POST", `/v2/workflows/${id}/tasks`, A, taskBody("before cleanup"));
    expect(early.status).toBe(201);
    expect((await stored(A, `WF#${id}`))?.tasks).toHaveLength(2);
    await v2SeesWithinLag(
      "a write before the cleanup, on v2",
      async () => Boolean(await stored(A, `WF#${id}#TASK#${early.body.id}`)),
      async () => ((await taskIds("v2", A, id)) as string[]).length === 2,
    );
    await converged(live.clients, live.table);
    // The cleanup racing a write: it drops an item's `tasks` between the write's read and its
    // UpdateItem. The write's condition (`tasks` still there) refuses it: a 409 with nothing
    // written, and the retry finds no `tasks` and writes a task record instead.
    const victim = live.workflows.find((w) => w.PK === B) as Item;
    const victimId = String(victim.SK).slice(3);
    const racing = testClients();
    let raced = false;
    racing.raw.middlewareStack.add(
      ((next: (a: unknown) => Promise<unknown>, context: { commandName?: string }) =>
        async (args: { input: { TableName?: string; Key?: { SK?: { S?: string } } } }) => {
          if (
            !raced &&
            context.commandName === "UpdateItemCommand" &&
            args.input.TableName === live.table &&
            [args.input.Key?.SK, args.input.Key?.SK?.S].includes(victim.SK as never)
          ) {
            raced = true;
            await live.clients.doc.send(new UpdateCommand({ TableName: live.table, Key: { PK: B, SK: victim.SK }, UpdateExpression: "REMOVE tasks" }));
          }
          return next(args);
        }) as never,
      { step: "initialize", priority: "high", name: "test-cleanup-races-write" },
    );
    const racingServer = await apiServer({ ...live, clients: racing });
    try {
      const { tasks: _dropped, ...cleaned } = (await stored(B, String(victim.SK))) as Item;
      const refused = await send(racingServer, "POST", `/v2/workflows/${victimId}/tasks`, B, taskBody("raced"));
      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe("conflict");
      expect(await stored(B, String(victim.SK))).toEqual(cleaned);
      const retried = await send(racingServer, "POST", `/v2/workflows/${victimId}/tasks`, B, taskBody("raced"));
      expect(retried.status).toBe(201);
      expect(await stored(B, `WF#${victimId}#TASK#${retried.body.id}`)).toMatchObject({ name: "raced", position: 2 });
      expect(await taskIds("v2", B, victimId)).toEqual([...(victim.tasks as Item[]).map((t) => t.id), retried.body.id]);
    } finally {
      await racingServer.close();
    }
    // The cleanup (remove's second act) drops every embedded `tasks`; the dual-write keeps the records.
    await removeOldAttributes({ clients: live.clients, tableName: live.table, controlTable: live.controlTable, migration: m2 }, { segments: 1, rate: 100_000 });
    expect((await snapshot(live.clients, live.table)).filter((i) => /^WF#[^#]+$/.test(String(i.SK)) && "tasks" in i)).toEqual([]);

    // Act 2: v2 writes the new model directly.
    const direct = await send(live.server, "POST", `/v2/workflows/${id}/tasks`, A, taskBody("after cleanup"));
    const changed = await send(live.server, "PATCH", `/workflows/${id}/tasks/${oldTask}`, A, { name: "renamed after remove" });
    const gone = await send(live.server, "DELETE", `/v2/workflows/${id}/tasks/${early.body.id}`, A);
    const fresh = await send(live.server, "POST", "/v2/workflows", A, workflowBody("born after remove"));
    const freshTask = await send(live.server, "POST", `/v2/workflows/${fresh.body.id}/tasks`, A, taskBody("first"));

    // Assert: answered at once from the records (no dual-write in between), the item keeps no tasks.
    expect([direct.status, changed.status, gone.status, fresh.status, freshTask.status]).toEqual([201, 200, 204, 201, 201]);
    expect(changed.headers.get("x-api-version")).toBe("v2");
    expect(await taskIds("v2", A, id)).toEqual([oldTask, String(direct.body.id)]);
    expect((await get(live.server, `/v2/workflows/${id}/tasks`, A)).body.items[0]).toMatchObject({ name: "renamed after remove" });
    expect(await taskIds("v2", A, String(fresh.body.id))).toEqual([String(freshTask.body.id)]);
    const item = await stored(A, `WF#${id}`);
    expect(item && "tasks" in item).toBe(false);
    expect(await stored(A, `WF#${fresh.body.id}`)).not.toHaveProperty("tasks");
    // Records the application wrote after remove are its own: no owner stamp (no rollback or repair may delete them).
    expect(await stored(A, `WF#${id}#TASK#${direct.body.id}`)).not.toHaveProperty(OWNER_ATTRIBUTE);
    expect(await stored(A, `WF#${id}#TASK#${oldTask}`)).not.toHaveProperty(OWNER_ATTRIBUTE);
    expect(await stored(A, `WF#${id}#TASK#${oldTask}`)).toMatchObject({ name: "renamed after remove", position: 0, workflow: `WF#${id}` });

    // Act 3: racing task adds on the new model still never lose one (the parent's revision serializes them).
    const results = await Promise.all(Array.from({ length: 4 }, (_, i) => send(live.server, "POST", `/v2/workflows/${id}/tasks`, A, taskBody(`race ${i}`))));
    expect(results.every((r) => r.status === 201 || r.status === 409)).toBe(true);
    const landed = results.filter((r) => r.status === 201).map((r) => String(r.body.id));
    expect(((await taskIds("v2", A, id)) as string[]).slice(2)).toEqual(expect.arrayContaining(landed));

    // Act 4: deleting the workflow takes its records with it, at once.
    expect((await send(live.server, "DELETE", `/v2/workflows/${id}`, A)).status).toBe(204);
    expect((await snapshot(live.clients, live.table)).filter((i) => String(i.SK).startsWith(`WF#${id}`))).toEqual([]);
    expect((await get(live.server, `/v2/workflows/${id}/tasks`, A)).status).toBe(404);
    // The dual-write skipped all of it: nothing failed, the context index still follows the items.
    expect(await live.deadLetters()).toEqual([]);
  });
});
