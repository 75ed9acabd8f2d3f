// v2 "workflows by context" in both index designs, over real HTTP: 0001's keys-only records
// (Query + BatchGetItem) and the variant whose records carry the listed fields (one Query).
import { batchPutAll, deriveRecords } from "@ferry/core";
import { contextId, tenantId } from "@ferry/example-workflows";
import { CONTEXT_FIELDS_PREFIX, contextIndexWithFields } from "@ferry/example-workflows/reads/context-index-fields";
import { prefixRange } from "@ferry/example-workflows/reads/v2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalApiServer } from "../../examples/workflows/src/api/local-server.ts";
import { testClients } from "../support/dynamo.ts";
import { type ConvertedTable, apiServer, convertedTable, expectedByContext, get, getAll } from "../support/api.ts";

const A = tenantId(0);
const shape = { tenants: 1, workflows: 120, contexts: 2, pool: 6, tasks: 2, itemKb: 2, seed: 5 };
let t: ConvertedTable;
let servers: { keysOnly: LocalApiServer; fields: LocalApiServer };
/** DynamoDB calls by command, per server's client. */
const calls = { keysOnly: new Map<string, number>(), fields: new Map<string, number>() };

function counted(into: Map<string, number>) {
  const clients = testClients();
  clients.raw.middlewareStack.add(
    (next, context) => async (args) => {
      const name = context.commandName ?? "?";
      into.set(name, (into.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: "initialize", name: "countCalls" },
  );
  return clients;
}

beforeAll(async () => {
  // Both designs in one table, side by side (CTX# and CTXF#), as the bench holds them.
  t = await convertedTable(shape);
  await batchPutAll(
    t.clients.doc,
    t.table,
    t.workflows.flatMap((w) => deriveRecords(contextIndexWithFields, w as never)),
  );
  servers = {
    keysOnly: await apiServer({ ...t, clients: counted(calls.keysOnly) }),
    fields: await apiServer({ ...t, clients: counted(calls.fields) }, { v2: { listing: "index-fields", indexPrefix: CONTEXT_FIELDS_PREFIX } }),
  };
}, 60_000);
afterAll(async () => Promise.all([servers?.keysOnly.close(), servers?.fields.close()]));

describe("v2 workflows by context, two index designs", () => {
  it("index records with the fields answer exactly what v1 and the BatchGet design answer, across pages", async () => {
    for (const ctx of [contextId(4)]) {
      // Arrange: 40 workflows share each context.
      const expected = expectedByContext(t.workflows, A, ctx);
      expect(expected.length).toBe(40);
      for (const limit of [7, 100]) {
        // Act
        const v1 = await get(servers.keysOnly, `/v1/workflows?context=${ctx}&limit=100`, A);
        const batchGet = await getAll(servers.keysOnly, `/v2/workflows?context=${ctx}&limit=${limit}`, A);
        const fields = await getAll(servers.fields, `/v2/workflows?context=${ctx}&limit=${limit}`, A);
        const fieldsPage = await get(servers.fields, `/v2/workflows?context=${ctx}&limit=100`, A);
        // Assert: same ids in the same order, and item for item the same answer as v1.
        expect(batchGet.ids).toEqual(expected);
        expect(fields.ids).toEqual(expected);
        expect(fieldsPage.body.items).toEqual(v1.body.items);
      }
    }
    // The fields design answered from its Query alone; the keys-only one fetched the workflows.
    expect(calls.fields.get("BatchGetItemCommand") ?? 0).toBe(0);
    expect(calls.keysOnly.get("BatchGetItemCommand") ?? 0).toBeGreaterThan(0);
  });

  it("the fields design never shows wf, keys or the owner stamp", async () => {
    const res = await get(servers.fields, `/v2/workflows?context=${contextId(1)}&limit=3`, A);
    expect(res.status).toBe(200);
    for (const item of res.body.items) {
      expect(Object.keys(item)).toEqual(expect.arrayContaining(["id", "name", "status", "contexts", "assignees", "started_at"]));
      for (const hidden of ["PK", "SK", "wf", "ferry", "tasks"]) expect(item).not.toHaveProperty(hidden);
    }
  });
});

describe("prefixRange", () => {
  it("bounds exactly the keys that start with the prefix", () => {
    const { from, to } = prefixRange("CTX#ctx-00001#");
    expect([from, to]).toEqual(["CTX#ctx-00001#", "CTX#ctx-00001$"]);
    const inside = ["CTX#ctx-00001#", "CTX#ctx-00001#WF#a", "CTX#ctx-00001#\uffff"];
    const outside = ["CTX#ctx-00001", "CTX#ctx-000010#WF#a", "CTX#ctx-00002#WF#a", "CTX#ctx-00001$"];
    for (const key of inside) expect(key >= from && key <= to && key.startsWith(from)).toBe(true);
    // The reader keeps what is in the range and starts with the prefix: "$" is the one key in range without it.
    for (const key of outside) expect(key >= from && key <= to && key.startsWith(from)).toBe(false);
  });
});
