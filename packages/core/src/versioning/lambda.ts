/**
 * The versioning library in a plain API Gateway (HTTP API, payload 2.0) Lambda handler, no
 * framework: `versionedLambda(versioning, { v1, v2 })` is the handler. The version comes
 * from the path parameter `version` (a route like `GET /{version}/widgets/{id}`) or a
 * `/v1`, `/v2` segment of the path, else as on every route (Accept-Version, the release).
 * Background work (shadow reads, counter flushes) is drained before returning, since a
 * frozen Lambda would lose it; no timer flushes (a frozen instance runs none): the
 * invocation that passes the flush interval flushes.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { matchPath } from "./request.ts";
import type { VersionedRequest } from "./request.ts";
import type { VersionedRoute, Versioning } from "./versioning.ts";

/** An HTTP API event, with the JWT authorizer's claims when the route has one. */
export type LambdaHttpEvent = APIGatewayProxyEventV2 & {
  requestContext: APIGatewayProxyEventV2["requestContext"] & { authorizer?: { jwt?: { claims?: Record<string, unknown> } } };
};

export type LambdaRoute<V1 = unknown, V2 = V1> = VersionedRoute<LambdaHttpEvent, V1, V2>;

export interface LambdaRouteOptions {
  /** The path parameter holding the version (default `version`). */
  versionParameter: string;
  /** A path prefix before the version (a stage name, a base path), e.g. `/prod`. */
  basePath: string;
}

export const DEFAULT_LAMBDA_ROUTE_OPTIONS: LambdaRouteOptions = { versionParameter: "version", basePath: "" };

const VERSION_SEGMENT = /^v\d+$/i;

export function lambdaRequest(event: LambdaHttpEvent): VersionedRequest {
  const headers = event.headers ?? {};
  const claims = event.requestContext.authorizer?.jwt?.claims;
  let query: Record<string, string> | undefined;
  // rawQueryString, not queryStringParameters: the latter joins repeated names with commas.
  const parseQuery = () => {
    const parsed: Record<string, string> = {};
    for (const [name, value] of new URLSearchParams(event.rawQueryString ?? "")) if (!(name in parsed)) parsed[name] = value;
    return parsed;
  };
  const method = event.requestContext.http.method.toUpperCase();
  return {
    method: method === "HEAD" ? "GET" : method,
    path: event.rawPath,
    header: (name) => headers[name] ?? headers[name.toLowerCase()],
    query: () => (query ??= parseQuery()),
    ...(claims ? { claims } : {}),
  };
}

/** The handler serving `route` with `versioning` (share one Versioning between the routes of a release). */
export function versionedLambda<V1, V2>(
  versioning: Versioning<LambdaHttpEvent>,
  route: LambdaRoute<V1, V2>,
  options: Partial<LambdaRouteOptions> = {},
): (event: LambdaHttpEvent) => Promise<APIGatewayProxyStructuredResultV2> {
  const o = { ...DEFAULT_LAMBDA_ROUTE_OPTIONS, ...options };
  return async (event) => {
    const request = lambdaRequest(event);
    const afterBase = request.path.startsWith(o.basePath) ? request.path.slice(o.basePath.length) : request.path;
    const first = afterBase.split("/")[1] ?? "";
    const segment = event.pathParameters?.[o.versionParameter] ?? (VERSION_SEGMENT.test(first) ? first : undefined);
    const resource = segment === undefined ? afterBase : afterBase.slice(1 + segment.length);
    const match = { ...matchPath(request.path, resource, segment !== undefined), method: request.method };
    // The route's pattern for shadow records: API Gateway's route key without the version parameter.
    const routePath = event.routeKey?.split(" ")[1];
    if (routePath) match.pattern = routePath.replace(`/{${o.versionParameter}}`, "") || "/";
    try {
      const result = await versioning.handle(event, request, route, match);
      const head = event.requestContext.http.method.toUpperCase() === "HEAD" || result.status === 204;
      return {
        statusCode: result.status,
        headers: { "content-type": "application/json", ...result.headers },
        body: head ? "" : JSON.stringify(result.body),
      };
    } finally {
      await versioning.background.drain();
    }
  };
}

/** No route for the event's route key (API Gateway routed an event the handler does not serve). */
const NO_ROUTE = (routeKey: string): APIGatewayProxyStructuredResultV2 => ({
  statusCode: 404,
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ error: { code: "not_found", message: `No route ${routeKey} in this handler; check the API's routes.` } }),
});

/**
 * One handler for several routes of a release, by API Gateway's route key; list both keys
 * of a route that is served versioned and unversioned:
 * `{ "GET /{version}/products/{sku}": product, "GET /products/{sku}": product }`.
 */
export function versionedLambdaRoutes(
  versioning: Versioning<LambdaHttpEvent>,
  // biome-ignore lint/suspicious/noExplicitAny: each route has its own body types.
  routes: Record<string, LambdaRoute<any, any>>,
  options: Partial<LambdaRouteOptions> = {},
): (event: LambdaHttpEvent) => Promise<APIGatewayProxyStructuredResultV2> {
  const handlers = new Map(Object.entries(routes).map(([key, route]) => [key, versionedLambda(versioning, route, options)]));
  return async (event) => {
    const handler = handlers.get(event.routeKey);
    return handler ? handler(event) : NO_ROUTE(event.routeKey);
  };
}
