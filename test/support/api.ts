// Test helpers for the API: a converted example table and the local HTTP server on it.
import { type DynamoClients, batchPutAll, deriveRecords, loadMigration } from "@ferry/core";
import { generateWorkflows } from "@ferry/example-workflows";
import { ensureControlTable } from "@ferry/core/control/control-table";
import type { ApiOptions } from "../../examples/workflows/src/api/deps.ts";
import { buildApiDeps } from "../../examples/workflows/src/api/deps.ts";
import { hs256Tenant, signDevToken } from "../../examples/workflows/src/api/auth.ts";
import { type LocalApiServer, startLocalApiServer } from "../../examples/workflows/src/api/local-server.ts";
import { freshPlainTable, testClients } from "./dynamo.ts";

export const JWT_SECRET = "test-secret-0123456789";

export type Item = Record<string, unknown>;

export interface ConvertedTable {
  clients: DynamoClients;
  table: string;
  controlTable: string;
  workflows: Item[];
}

/** Workflows plus the records of both example migrations, as a completed convert leaves them. */
export async function convertedTable(options: Parameters<typeof generateWorkflows>[0]): Promise<ConvertedTable> {
  const clients = testClients();
  const table = await freshPlainTable(clients, "api");
  const controlTable = `${table}.ferry`;
  await ensureControlTable(clients.raw, controlTable);
  const [m1, m2] = await Promise.all([loadMigration("0001"), loadMigration("0002")]);
  const workflows = [...generateWorkflows(options)] as Item[];
  await batchPutAll(clients.doc, table, workflows);
  await batchPutAll(
    clients.doc,
    table,
    workflows.flatMap((w) => [...deriveRecords(m1, w as never), ...deriveRecords(m2, w as never)]),
  );
  return { clients, table, controlTable, workflows };
}

/** The API on a free port over `t`; `overrides` tune the deps (e.g. a faulty client). */
export async function apiServer(t: ConvertedTable, overrides: Partial<ApiOptions> = {}): Promise<LocalApiServer> {
  return startLocalApiServer(
    buildApiDeps({
      doc: t.clients.doc,
      tableName: t.table,
      controlTable: t.controlTable,
      tenant: hs256Tenant(JWT_SECRET),
      tokenSecret: "next-token-secret",
      release: { cacheMs: 200 },
      logError: (err) => console.error(err),
      ...overrides,
    }),
    { port: 0 },
  );
}

export const tokenFor = (tenant: string, options?: Parameters<typeof signDevToken>[2]) => signDevToken(JWT_SECRET, tenant, options);

/** GET with a tenant's token; returns status, headers and parsed JSON. */
export async function get(server: LocalApiServer, path: string, tenant?: string, headers: Record<string, string> = {}) {
  const auth: Record<string, string> = tenant ? { authorization: `Bearer ${await tokenFor(tenant)}` } : {};
  const response = await fetch(`${server.url}${path}`, { headers: { ...auth, ...headers } });
  const text = await response.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.status, headers: response.headers, body };
}

/** Every item of `GET path` following nextToken; returns the ids in order and the page count. */
export async function getAll(server: LocalApiServer, path: string, tenant: string): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let pages = 0;
  let token: string | null = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const res = await get(server, token ? `${path}${sep}nextToken=${encodeURIComponent(token)}` : path, tenant);
    if (res.status !== 200) throw new Error(`GET ${path} -> ${res.status} ${JSON.stringify(res.body)}`);
    ids.push(...res.body.items.map((i: Item) => i.id as string));
    token = res.body.nextToken;
    pages++;
  } while (token);
  return { ids, pages };
}

/** The ids of a tenant's workflows having `contextId`, in key order (what both versions must answer). */
export function expectedByContext(workflows: Item[], tenant: string, contextId: string): string[] {
  return workflows
    .filter((w) => w.PK === tenant && (w.contexts as { id: string }[]).some((c) => c.id === contextId))
    .map((w) => String(w.SK).slice(3))
    .sort();
}
