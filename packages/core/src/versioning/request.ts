/**
 * What the versioning library reads of a request and writes as an answer, whatever the
 * framework: the Hono adapter (./hono.ts) and the plain Lambda adapter (./lambda.ts) each
 * turn their own request into a {@link VersionedRequest} and a {@link VersionedResult} back.
 */

/** A request as the library sees it. */
export interface VersionedRequest {
  /** Upper case; HEAD is served as GET. */
  method: string;
  /** The path as received, e.g. `/v1/widgets/7`. */
  path: string;
  /** A request header by its lower-case name. */
  header(name: string): string | undefined;
  /** Every query parameter (the first value of each). */
  query(): Record<string, string>;
  /** Claims of a JWT the platform already verified (API Gateway's JWT authorizer), when there is one. */
  claims?: Record<string, unknown>;
}

/** Where the version sits in a request's path. */
export interface PathMatch {
  /** The path up to the version segment (or up to the resource, on unversioned routes), e.g. `/api`; "" at the root. */
  prefix: string;
  /** The version segment as written (`v1`, `v2`, or anything else: a 400), absent on unversioned routes. */
  segment?: string;
  /** The resource path after the version, e.g. `/widgets/7`: what a nextToken is bound to. */
  resource: string;
  /** The route's pattern for shadow records, e.g. `/widgets/{id}`. */
  pattern: string;
}

/** An answer: JSON body, status and headers. */
export interface VersionedResult {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** A handler's answer with a status or headers of its own (a plain return value is a 200). */
export class Answer<T = unknown> {
  constructor(
    readonly body: T,
    readonly status: number = 200,
    readonly headers: Record<string, string> = {},
  ) {}
}

/** `return answer(created, { status: 201, headers: { Location: ... } })` from a handler. */
export function answer<T>(body: T, options: { status?: number; headers?: Record<string, string> } = {}): Answer<T> {
  return new Answer(body, options.status ?? 200, options.headers ?? {});
}

/**
 * Splits a concrete path by the number of segments of the route it matched: the last
 * `resourceSegments` are the resource, the one before them the version when `versioned`.
 */
export function matchPath(path: string, pattern: string, versioned: boolean): PathMatch {
  const patternSegments = pattern.split("/").filter(Boolean);
  const segments = path.split("/");
  // segments[0] is "" (the path starts with "/").
  const resourceStart = segments.length - patternSegments.length;
  const resource = `/${segments.slice(resourceStart).join("/")}`;
  const label = `/${patternSegments.map((s) => (s.startsWith(":") ? `{${s.slice(1).replace(/\{.*$/, "")}}` : s)).join("/")}`;
  if (!versioned) return { prefix: segments.slice(0, resourceStart).join("/"), resource, pattern: label };
  return { prefix: segments.slice(0, resourceStart - 1).join("/"), segment: segments[resourceStart - 1] ?? "", resource, pattern: label };
}
