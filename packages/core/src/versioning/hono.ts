/**
 * The versioning library on any Hono app. `versionedRoutes(app, options)` gives route
 * declarations that take a v1 and a v2 handler and nothing else about versions:
 *
 *   const widgets = versionedRoutes(app, { release: { doc, controlTable, migrationId }, tokenSecret });
 *   widgets.get("/widgets/:id", { v1: (c) => readOld(c.req.param("id")), v2: (c) => readNew(c.req.param("id")) });
 *
 * Each path answers on `/v1/...`, `/v2/...` and unversioned (the release decides); a method
 * the path does not declare gets a 405 with Allow. Every declaration of an app (from any
 * number of `versionedRoutes`, one per release) shares one registration per path, so a
 * write declared later on the same path is dispatched, not shadowed by an earlier 405.
 */
import type { Context, Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { UsageError } from "../errors.ts";
import { type VersionedRequest, matchPath } from "./request.ts";
import { type VersionedRoute, Versioning, type VersioningOptions } from "./versioning.ts";

/** The path parameter holding the version segment (named so it cannot clash with the app's own). */
const VERSION_PARAMETER = "ferryApiVersion";

/** A route declared twice (the second would never be reached). */
export class DuplicateVersionedRouteError extends UsageError {
  constructor(
    readonly method: string,
    readonly path: string,
  ) {
    super(`${method} ${path} is declared twice; declare each versioned route once.`);
  }
}

/** Any Hono app, whatever its env and schema. */
// biome-ignore lint/suspicious/noExplicitAny: the app's own Env and Schema types do not matter here.
type AnyHono = Hono<any, any, any>;

interface Declared {
  versioning: Versioning<Context>;
  // biome-ignore lint/suspicious/noExplicitAny: each route has its own body type.
  route: VersionedRoute<Context, any, any>;
}

/** Per app: path -> method -> declaration. */
const registries = new WeakMap<AnyHono, Map<string, Map<string, Declared>>>();

export type HonoRoute<V1 = unknown, V2 = V1> = VersionedRoute<Context, V1, V2>;

export interface VersionedRoutes {
  readonly versioning: Versioning<Context>;
  get<V1, V2>(path: string, route: HonoRoute<V1, V2>): VersionedRoutes;
  post<V1, V2>(path: string, route: HonoRoute<V1, V2>): VersionedRoutes;
  put<V1, V2>(path: string, route: HonoRoute<V1, V2>): VersionedRoutes;
  patch<V1, V2>(path: string, route: HonoRoute<V1, V2>): VersionedRoutes;
  delete<V1, V2>(path: string, route: HonoRoute<V1, V2>): VersionedRoutes;
}

/** The library's view of a Hono request (claims: those of API Gateway's JWT authorizer when behind hono/aws-lambda). */
export function honoRequest(c: Context): VersionedRequest {
  let query: Record<string, string> | undefined;
  const env = c.env as { event?: { requestContext?: { authorizer?: { jwt?: { claims?: Record<string, unknown> } } } } } | undefined;
  const claims = env?.event?.requestContext?.authorizer?.jwt?.claims;
  return {
    method: c.req.method === "HEAD" ? "GET" : c.req.method,
    path: c.req.path,
    header: (name) => c.req.header(name),
    query: () => (query ??= c.req.query()),
    ...(claims ? { claims } : {}),
  };
}

function allowed(methods: Map<string, Declared>): string {
  const names = [...methods.keys()];
  return [...(names.includes("GET") ? ["GET", "HEAD"] : []), ...names.filter((m) => m !== "GET")].join(", ");
}

function register(app: AnyHono, path: string): Map<string, Declared> {
  const paths = registries.get(app) ?? new Map<string, Map<string, Declared>>();
  registries.set(app, paths);
  const existing = paths.get(path);
  if (existing) return existing;
  const methods = new Map<string, Declared>();
  paths.set(path, methods);
  const dispatch = (versioned: boolean) => async (c: Context) => {
    const request = honoRequest(c);
    const declared = methods.get(request.method);
    if (!declared) {
      const allow = allowed(methods);
      c.header("Allow", allow);
      return c.json({ error: { code: "method_not_allowed", message: `${c.req.method} is not allowed on ${c.req.path}; use ${allow}.` } }, 405);
    }
    const match = { ...matchPath(c.req.path, path, versioned), method: request.method };
    const result = await declared.versioning.handle(c, request, declared.route, match);
    if (result.status === 204) return c.body(null, 204, result.headers);
    return c.json(result.body as object, result.status as ContentfulStatusCode, result.headers);
  };
  // The versioned pattern first: `/workflows/workflows` is version "workflows" (a 400), as before.
  app.all(`/:${VERSION_PARAMETER}${path}`, dispatch(true));
  app.all(path, dispatch(false));
  return methods;
}

/**
 * Versioned routes on `app` following one release. Pass a {@link Versioning} to share it
 * (e.g. with a Lambda adapter), or its options.
 */
export function versionedRoutes(app: AnyHono, versioning: Versioning<Context> | VersioningOptions<Context>): VersionedRoutes {
  const v = versioning instanceof Versioning ? versioning : new Versioning<Context>(versioning);
  const declare =
    (method: string) =>
    <V1, V2>(path: string, route: HonoRoute<V1, V2>): VersionedRoutes => {
      const methods = register(app, path);
      if (methods.has(method)) throw new DuplicateVersionedRouteError(method, path);
      methods.set(method, { versioning: v, route });
      return routes;
    };
  const routes: VersionedRoutes = {
    versioning: v,
    get: declare("GET"),
    post: declare("POST"),
    put: declare("PUT"),
    patch: declare("PATCH"),
    delete: declare("DELETE"),
  };
  return routes;
}
