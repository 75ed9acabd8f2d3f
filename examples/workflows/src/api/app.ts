/**
 * The example service's API: one Hono app serving v1 (old model) and v2 (new model) side
 * by side, on AWS behind API Gateway (hono/aws-lambda) and locally behind @hono/node-server
 * (`ferry serve`). Versions are @ferry/core's versioning library (one `versionedRoutes` per
 * migration's release); a route names its two handlers, the reads live in ../reads.
 */
import {
  ApiError,
  type ApiVersion,
  BadRequestError,
  type Background,
  type ReleaseCache,
  type ShadowRecheckOptions,
  type VersionedCall,
  versionedRoutes,
} from "@ferry/core";
import { type Context, Hono } from "hono";
import { WorkflowStatus } from "../model/workflow.ts";
import type { ContextListReader } from "../reads/by-context-table.ts";
import type { StatusReader } from "../reads/by-status.ts";
import { type WorkflowReader, parseId, parseLimit } from "../reads/view.ts";
import type { TenantResolver } from "./auth.ts";
import { WorkflowNotFoundError } from "./errors.ts";
import type { WorkflowWriter } from "../writes/writer.ts";
import { registerWrites } from "./write-routes.ts";

/** Everything the routes need, built by ./deps.ts from the environment or by a test. */
export interface ApiDeps {
  readers: Record<ApiVersion, WorkflowReader>;
  /** "Workflows by status": v1 filters the tenant's partition, v2 queries the byStatus GSI (0003). */
  statusReaders: Record<ApiVersion, StatusReader>;
  /** "Workflows by context" on 0004's copy: v1 is `readers.v1`, v2 queries WorkflowsByContext. */
  contextTableReaders: Record<ApiVersion, ContextListReader>;
  /** The writes of both versions (./write-routes.ts). */
  writer: WorkflowWriter;
  /** The release of the migration owning each route family. */
  releases: { byContext: ReleaseCache; workflow: ReleaseCache; byStatus: ReleaseCache; byContextTable: ReleaseCache };
  tenant: TenantResolver;
  /** HMAC secret of nextToken. */
  tokenSecret: string;
  background: Background;
  /** How a shadow disagreement is re-checked (after the dual-write's lag) before it counts as a divergence. */
  shadowRecheck: ShadowRecheckOptions;
  /** Decides shadow sampling; injectable for tests. */
  random: () => number;
  /** Unexpected errors (answered as 500 without details). */
  logError: (err: unknown, c?: Context) => void;
}

/** The `status` path parameter: one of the workflow statuses. */
function parseStatus(value: string | undefined): string {
  const parsed = WorkflowStatus.safeParse(value);
  if (!parsed.success) throw new BadRequestError("status", `status must be one of ${WorkflowStatus.options.join(", ")} (got "${String(value).slice(0, 40)}").`);
  return parsed.data;
}

/** The same handler on both versions, each with its own reader. */
function onEach<R, Out>(readers: Record<ApiVersion, R>, handler: (reader: R, c: Context, call: VersionedCall) => Promise<Out>) {
  return {
    v1: (c: Context, call: VersionedCall) => handler(readers.v1, c, call),
    v2: (c: Context, call: VersionedCall) => handler(readers.v2, c, call),
  };
}

export function createApiApp(deps: ApiDeps): Hono {
  const app = new Hono();
  const shared = { tokenSecret: deps.tokenSecret, tenant: deps.tenant, background: deps.background, shadowRecheck: deps.shadowRecheck, random: deps.random };
  const options = (release: ReleaseCache) => ({ ...shared, release, logError: (err: unknown) => deps.logError(err) });
  const byContext = versionedRoutes(app, options(deps.releases.byContext));
  const workflow = versionedRoutes(app, options(deps.releases.workflow));
  const byStatus = versionedRoutes(app, options(deps.releases.byStatus));
  const byContextTable = versionedRoutes(app, options(deps.releases.byContextTable));

  byContext.get(
    "/workflows",
    onEach(deps.readers, async (reader, c, call) => {
      const contextId = parseId("context", c.req.query("context"));
      const limit = parseLimit(c.req.query("limit"));
      const start = call.start();
      const page = await reader.listByContext({ tenant: call.tenant, contextId, limit, ...(start ? { start } : {}) });
      return { items: page.items, nextToken: call.nextToken(page.next) };
    }),
  );
  workflow.get(
    "/workflows/:id",
    onEach(deps.readers, async (reader, c, call) => {
      const id = parseId("workflow id", c.req.param("id"));
      const item = await reader.getWorkflow(call.tenant, id);
      if (!item) throw new WorkflowNotFoundError(id);
      return item;
    }),
  );
  workflow.get(
    "/workflows/:id/tasks",
    onEach(deps.readers, async (reader, c, call) => {
      const id = parseId("workflow id", c.req.param("id"));
      const tasks = await reader.listTasks(call.tenant, id);
      if (!tasks) throw new WorkflowNotFoundError(id);
      return { items: tasks, nextToken: null };
    }),
  );

  // Declared after /workflows/:id/tasks, which keeps `/workflows/by-status/tasks` (a workflow named by-status).
  byStatus.get(
    "/workflows/by-status/:status",
    onEach(deps.statusReaders, async (reader, c, call) => {
      const status = parseStatus(c.req.param("status"));
      const limit = parseLimit(c.req.query("limit"));
      const start = call.start();
      const page = await reader.listByStatus({ tenant: call.tenant, status, limit, ...(start ? { start } : {}) });
      return { items: page.items, nextToken: call.nextToken(page.next) };
    }),
  );
  byContextTable.get(
    "/workflows/by-context/:context",
    onEach(deps.contextTableReaders, async (reader, c, call) => {
      const contextId = parseId("context", c.req.param("context"));
      const limit = parseLimit(c.req.query("limit"));
      const start = call.start();
      const page = await reader.listByContext({ tenant: call.tenant, contextId, limit, ...(start ? { start } : {}) });
      return { items: page.items, nextToken: call.nextToken(page.next) };
    }),
  );

  registerWrites(app, deps);

  app.notFound((c) =>
    c.json({ error: { code: "not_found", message: `No route ${c.req.method} ${c.req.path}; see GET /v1/workflows, /v2/workflows, /workflows.` } }, 404),
  );
  // Errors outside the versioned routes (the library answers its own).
  app.onError((err, c) => {
    if (err instanceof ApiError) return c.json({ error: { code: err.code, message: err.message } }, err.status);
    deps.logError(err, c);
    return c.json({ error: { code: "internal", message: "Internal error; it was logged. Retry later." } }, 500);
  });
  return app;
}
