/**
 * The example service's API: one Hono app serving v1 (old model) and v2 (new model) side
 * by side, on AWS behind API Gateway (hono/aws-lambda) and locally behind @hono/node-server
 * (`ferry serve`). Routes stay thin: the reads live in ../reads, the version choice
 * in ./versioning.ts.
 */
import {
  ApiError,
  UnknownVersionError,
  UsageUnrecordedError,
  VersionGoneError,
  checkTokenScope,
  encodeNextToken,
  verifyNextToken,
  type ApiVersion,
  type ReleaseCache,
  type ShadowRecheckOptions,
  runShadowComparison,
} from "@ferry/core";
import { WorkflowNotFoundError } from "./errors.ts";
import { type ApiItem, type WorkflowReader, parseId, parseLimit } from "../reads/view.ts";
import { type Context, Hono } from "hono";
import type { TenantResolver } from "./auth.ts";
import type { Background } from "./background.ts";
import { chooseVersion, setVersionHeaders } from "./versioning.ts";
import { ALLOWED_METHODS_BY_PATH, writeRoutes } from "./write-routes.ts";
import type { WorkflowWriter } from "../writes/writer.ts";

/** Everything the routes need, built by ./deps.ts from the environment or by a test. */
export interface ApiDeps {
  readers: Record<ApiVersion, WorkflowReader>;
  /** The writes of both versions (./write-routes.ts). */
  writer: WorkflowWriter;
  /** The release of the migration owning each route family. */
  releases: { byContext: ReleaseCache; workflow: ReleaseCache };
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

function pathVersion(c: Context): ApiVersion | undefined {
  const segment = c.req.param("version");
  if (segment === undefined) return undefined;
  if (segment === "v1" || segment === "v2") return segment;
  throw new UnknownVersionError(segment);
}

export function createApiApp(deps: ApiDeps): Hono {
  const app = new Hono();

  /** Resolves tenant and version, counts the request, and sets the version headers. */
  async function begin(c: Context, release: ReleaseCache, tokenVersion?: () => ApiVersion | undefined) {
    const tenant = await deps.tenant(c);
    const config = await release.get();
    const explicit = pathVersion(c) ?? tokenVersion?.();
    const chosen = chooseVersion(c, config, tenant, explicit);
    setVersionHeaders(c, config, chosen);
    const counted = release.usage.record(chosen.version);
    const flush = counted.flush;
    if (flush) deps.background.run(() => flush);
    // v1: answered only once the server record covers it, so the remove guard cannot miss it.
    await counted.ready.catch((err: unknown) => {
      deps.logError(err, c);
      throw new UsageUnrecordedError({ cause: err });
    });
    return { tenant, config, version: chosen.version };
  }

  /**
   * Runs the other version after the answer and records whether the ids agree; a
   * disagreement is re-checked there too (both versions read again), never before the answer.
   */
  function shadow(
    release: ReleaseCache,
    route: string,
    tenant: string,
    primary: ApiVersion,
    primaryIds: string[],
    run: (reader: WorkflowReader) => Promise<string[]>,
  ) {
    deps.background.run(async () => {
      await runShadowComparison(release.location, { route, tenant, primary, primaryIds, readIds: (version) => run(deps.readers[version]) }, deps.shadowRecheck);
    });
  }

  const wantsShadow = (percent: number, retired: boolean) => !retired && percent > 0 && deps.random() * 100 < percent;

  const listByContext = async (c: Context) => {
    const release = deps.releases.byContext;
    const token = c.req.query("nextToken");
    // Verified once (after auth): a token keeps its pages on the version that issued them, even across a flip.
    let verified: ReturnType<typeof verifyNextToken> | undefined;
    const verifiedToken = (value: string) => (verified ??= verifyNextToken(deps.tokenSecret, value));
    const tokenVersion = () => {
      const issued = token ? verifiedToken(token).scope.version : undefined;
      return issued === "v1" || issued === "v2" ? issued : undefined;
    };
    const { tenant, config, version } = await begin(c, release, tokenVersion);
    const contextId = parseId("context", c.req.query("context"));
    const limit = parseLimit(c.req.query("limit"));
    const scope = { tenant, version, query: `context=${contextId}` };
    const start = token ? checkTokenScope(verifiedToken(token), scope) : undefined;
    const result = await deps.readers[version].listByContext({ tenant, contextId, limit, ...(start ? { start } : {}) });
    if (!token && wantsShadow(config.shadowPercent, Boolean(config.v1RetiredAt))) {
      const ids = result.items.map((item) => item.id);
      shadow(release, "GET /workflows?context", tenant, version, ids, async (reader) =>
        (await reader.listByContext({ tenant, contextId, limit })).items.map((item) => item.id),
      );
    }
    return c.json({ items: result.items, nextToken: result.next ? encodeNextToken(deps.tokenSecret, scope, result.next) : null });
  };

  const getWorkflow = async (c: Context) => {
    const release = deps.releases.workflow;
    const { tenant, config, version } = await begin(c, release);
    const id = parseId("workflow id", c.req.param("id"));
    const item = await deps.readers[version].getWorkflow(tenant, id);
    if (wantsShadow(config.shadowPercent, Boolean(config.v1RetiredAt))) {
      shadow(release, "GET /workflows/{id}", tenant, version, item ? [item.id] : [], async (reader) => {
        const found = await reader.getWorkflow(tenant, id);
        return found ? [found.id] : [];
      });
    }
    if (!item) throw new WorkflowNotFoundError(id);
    return c.json(item);
  };

  const listTasks = async (c: Context) => {
    const release = deps.releases.workflow;
    const { tenant, config, version } = await begin(c, release);
    const id = parseId("workflow id", c.req.param("id"));
    const tasks = await deps.readers[version].listTasks(tenant, id);
    if (wantsShadow(config.shadowPercent, Boolean(config.v1RetiredAt))) {
      const ids = (tasks ?? []).map((task: ApiItem) => task.id);
      shadow(release, "GET /workflows/{id}/tasks", tenant, version, ids, async (reader) => ((await reader.listTasks(tenant, id)) ?? []).map((task) => task.id));
    }
    if (!tasks) throw new WorkflowNotFoundError(id);
    return c.json({ items: tasks, nextToken: null });
  };

  const writes = writeRoutes(deps.writer);
  for (const prefix of ["/:version", ""]) {
    app.get(`${prefix}/workflows`, listByContext);
    app.get(`${prefix}/workflows/:id`, getWorkflow);
    app.get(`${prefix}/workflows/:id/tasks`, listTasks);
    // Writes follow the task split's release (0002): the version, its usage and 410 as for the reads.
    for (const route of writes) {
      app.on(route.method, `${prefix}${route.path}`, async (c) => {
        const { tenant, version } = await begin(c, deps.releases.workflow);
        return route[version](c, { tenant });
      });
    }
    // Other methods on these routes get 405 with Allow, not 404 (HEAD: Hono answers it with the GET route).
    for (const [path, allowed] of Object.entries(ALLOWED_METHODS_BY_PATH)) {
      app.all(`${prefix}${path}`, (c) => {
        c.header("Allow", allowed);
        return c.json({ error: { code: "method_not_allowed", message: `${c.req.method} is not allowed on ${c.req.path}; use ${allowed}.` } }, 405);
      });
    }
  }

  app.notFound((c) =>
    c.json({ error: { code: "not_found", message: `No route ${c.req.method} ${c.req.path}; see GET /v1/workflows, /v2/workflows, /workflows.` } }, 404),
  );
  app.onError((err, c) => {
    if (err instanceof ApiError) {
      if (err instanceof VersionGoneError) c.header("Link", `<${err.successor}>; rel="successor-version"`);
      if (err instanceof UsageUnrecordedError) c.header("Retry-After", "1");
      return c.json({ error: { code: err.code, message: err.message } }, err.status);
    }
    deps.logError(err, c);
    return c.json({ error: { code: "internal", message: "Internal error; it was logged. Retry later." } }, 500);
  });
  return app;
}
