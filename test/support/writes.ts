// Test helpers for the write routes: a stream-enabled example table with both migrations'
// dual-writes running (as after `ferry add` + convert), the API on it, and HTTP writes.
import { batchPutAll, type DynamoClients, loadMigration } from "@ferry/core";
import { generateWorkflows } from "@ferry/example-workflows";
import type { LocalApiServer } from "../../examples/workflows/src/api/local-server.ts";
import { type ConvertedTable, apiServer, tokenFor } from "./api.ts";
import { freshExampleTable, scanAll, testClients } from "./dynamo.ts";
import { invariantDiff } from "./invariant.ts";
import { startLiveDualWrite } from "./live-dual-write.ts";

export type Item = Record<string, unknown>;

export const m1 = await loadMigration("0001");
export const m2 = await loadMigration("0002");

export interface LiveApi extends ConvertedTable {
  server: LocalApiServer;
  /** Dead-lettered stream records of both dual-writes. */
  deadLetters(): Promise<unknown[]>;
  stop(): Promise<void>;
}

/** Polls `check` until it returns a value other than undefined (every `everyMs`), or throws after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 10_000, everyMs = 25): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Waits until both migrations' records are exactly derive() of the workflow items (the dual-writes caught up). */
export async function converged(clients: DynamoClients, table: string, timeoutMs = 20_000) {
  return eventually(
    "the new model to converge",
    async () => {
      const diffs = await Promise.all([m1, m2].map((m) => invariantDiff(clients, table, m)));
      return diffs.every((d) => d.missing.length + d.orphans.length + d.different.length === 0) ? diffs : undefined;
    },
    timeoutMs,
    100,
  );
}

/** A small stream-enabled table, seeded, with the dual-writes of 0001 and 0002 live and converged, and the API on it. */
export async function liveApi(seed: Parameters<typeof generateWorkflows>[0], overrides: Parameters<typeof apiServer>[1] = {}): Promise<LiveApi> {
  const clients = testClients();
  const table = await freshExampleTable(clients, "wr");
  const controlTable = `${table}.ferry`;
  const workflows = [...generateWorkflows(seed)] as Item[];
  await batchPutAll(clients.doc, table, workflows);
  // Both dual-writes from the stream's start: they derive the seed's records (the backfill's part here).
  const dualWrites = await Promise.all([m1, m2].map((m) => startLiveDualWrite(testClients(), table, controlTable, m)));
  await converged(clients, table);
  const t = { clients, table, controlTable, workflows };
  const server = await apiServer(t, overrides);
  return {
    ...t,
    server,
    deadLetters: async () => (await Promise.all(dualWrites.map((d) => d.deadLetters()))).flat(),
    async stop() {
      await server.close();
      await Promise.all(dualWrites.map((d) => d.stop()));
    },
  };
}

export interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

/** One request with a tenant's token and a JSON (or raw string) body. */
export async function send(
  server: LocalApiServer,
  method: string,
  path: string,
  tenant: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const init: RequestInit = {
    method,
    headers: { authorization: `Bearer ${await tokenFor(tenant)}`, "content-type": "application/json", ...headers },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  };
  const response = await fetch(`${server.url}${path}`, init);
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {}
  return { status: response.status, headers: response.headers, body: parsed };
}

/** Every item, sorted by key, for exact before/after comparisons. */
export async function snapshot(clients: DynamoClients, table: string): Promise<Item[]> {
  const items = await scanAll(clients, table);
  return items.sort((a, b) => (`${a.PK}\u0000${a.SK}` < `${b.PK}\u0000${b.SK}` ? -1 : 1));
}

/** A workflow body the API accepts. */
export const workflowBody = (name: string, contexts: string[] = []) => ({
  name,
  status: "IN_PROGRESS",
  assignees: ["101"],
  contexts: contexts.map((id) => ({ id, name: `Context ${id}` })),
});

export const taskBody = (name: string) => ({ name, dueDate: "2027-01-15T12:00:00Z", assignees: ["202"] });
