/**
 * The framework-free core of the versioning library: one instance follows one migration's
 * release and answers any request routed to a versioned route. In order: the tenant, the
 * release configuration (cached), the version (./choose.ts), 410 for a retired v1
 * (./retirement.ts), the version headers (./headers.ts), the usage count the remove guard
 * relies on (./usage-gate.ts), the route's handler for that version, and after the answer a
 * shadow comparison (./shadow-schedule.ts). Errors become `{ "error": { "code", "message" } }`
 * answers. The Hono adapter (./hono.ts) and the Lambda adapter (./lambda.ts) call `handle`.
 */
import { ApiError, UnauthorizedError, UsageUnrecordedError, VersionGoneError } from "../api/errors.ts";
import type { ResumeKey, TokenScope } from "../api/next-token.ts";
import type { ControlLocation } from "../control/keys.ts";
import { ReleaseCache, type ReleaseCacheOptions } from "../release/cache.ts";
import type { ApiVersion, ReleaseConfig } from "../release/config.ts";
import { newServerId } from "../release/server-record.ts";
import { type ShadowRecheckOptions, shadowRecheckOptions } from "../release/shadow.ts";
import { Background } from "./background.ts";
import { type ChoiceReason, chooseVersion, parseVersionSegment } from "./choose.ts";
import { versionHeaders } from "./headers.ts";
import { PageTokens, UNBOUND_QUERY_PARAMETERS, tokenQuery } from "./page-token.ts";
import { Answer, type PathMatch, type VersionedRequest, type VersionedResult } from "./request.ts";
import { refuseRetired } from "./retirement.ts";
import { type ShadowSpec, defaultIds, idsOf, scheduleShadow, wantsShadow } from "./shadow-schedule.ts";
import { type TenantResolver, claimTenant, tenantProblem } from "./tenant.ts";
import { countRequest } from "./usage-gate.ts";

/** What a handler knows of its request's version. */
export interface VersionedCall {
  readonly tenant: string;
  readonly version: ApiVersion;
  readonly reason: ChoiceReason;
  readonly config: ReleaseConfig;
  /** Where this page starts: the resume key of the request's nextToken, checked against tenant, version and query; undefined without one. */
  start(): ResumeKey | undefined;
  /** The nextToken of the page after this one at `key`; null when `key` is undefined (the last page). */
  nextToken(key: ResumeKey | undefined): string | null;
}

/** One version's handler: the framework's request in, the JSON body (or an {@link Answer}) out; throw an ApiError for 4xx. */
export type VersionHandler<In, Out> = (input: In, call: VersionedCall) => Out | Answer<Out> | Promise<Out | Answer<Out>>;

/** A versioned route: its two handlers (each with its own body type), and for reads what a shadow comparison compares. */
export interface VersionedRoute<In, V1 = unknown, V2 = V1> {
  v1: VersionHandler<In, V1>;
  v2: VersionHandler<In, V2>;
  /** Reads only (writes never run twice); default: ids of `items` or `id`. */
  shadow?: ShadowSpec<V1 | V2>;
}

export interface VersioningOptions<In = unknown> {
  /** The release this API follows: a cache built elsewhere, or where it lives (migration id and control table). */
  release: ReleaseCache | ControlLocation;
  /** Cache and counter options when `release` is a location. */
  releaseCache?: Partial<ReleaseCacheOptions>;
  /** HMAC key of nextToken. */
  tokenSecret: string;
  /** Default: the `tenant` claim of the JWT API Gateway's authorizer verified ({@link claimTenant}). */
  tenant?: TenantResolver<In>;
  /** Shared by every Versioning of an app, so one drain covers all (default: a new one). */
  background?: Background;
  /** How a shadow disagreement is re-checked (DEFAULT_SHADOW_RECHECK). */
  shadowRecheck?: Partial<ShadowRecheckOptions>;
  /** Decides shadow sampling. */
  random?: () => number;
  /** Unexpected errors (answered as 500 without details) and failed background work. */
  logError?: (err: unknown) => void;
}

/** How a route matched: the path split around the version, and whether it is a read. */
export interface RouteMatch extends PathMatch {
  method: string;
}

const INTERNAL = { error: { code: "internal", message: "Internal error; it was logged. Retry later." } };

export class Versioning<In = unknown> {
  readonly release: ReleaseCache;
  readonly background: Background;
  private readonly tenant: TenantResolver<In>;
  private readonly recheck: ShadowRecheckOptions;
  private readonly random: () => number;
  private readonly logError: (err: unknown) => void;

  constructor(private readonly options: VersioningOptions<In>) {
    this.logError = options.logError ?? ((err: unknown) => console.error("ferry versioning:", err));
    this.release =
      options.release instanceof ReleaseCache
        ? options.release
        : // A server id of its own: two counters of one migration under one id would overwrite each other's record (and its v1 declaration).
          new ReleaseCache(options.release, {
            ...options.releaseCache,
            usage: { onError: this.logError, serverId: newServerId(), ...options.releaseCache?.usage },
          });
    this.background = options.background ?? new Background(this.logError);
    this.tenant = options.tenant ?? (claimTenant() as TenantResolver<In>);
    this.recheck = shadowRecheckOptions(options.shadowRecheck);
    this.random = options.random ?? Math.random;
  }

  /** Long-running servers: flush the usage counts on a timer (Lambda flushes per invocation instead). */
  start(): void {
    this.release.usage.start();
  }

  /** Waits for background work, flushes the counts and records the clean stop. */
  async stop(): Promise<void> {
    await this.background.drain();
    await this.release.usage.stop();
  }

  /** Answers one request routed to `route`; never throws. */
  async handle<V1, V2>(input: In, request: VersionedRequest, route: VersionedRoute<In, V1, V2>, match: RouteMatch): Promise<VersionedResult> {
    let headers: Record<string, string> = {};
    try {
      const tenant = await this.tenant(input, request);
      const problem = tenantProblem(tenant);
      if (problem) throw new UnauthorizedError(`the tenant this request resolves to ${problem}`);
      const config = await this.release.get();
      const query = request.query();
      const tokens = new PageTokens(this.options.tokenSecret, query.nextToken);
      const path = match.segment === undefined ? undefined : parseVersionSegment(match.segment);
      const chosen = chooseVersion(config, tenant, { path, token: () => tokens.issuedVersion(), header: () => request.header("accept-version") });
      refuseRetired(config, chosen, request.path, match);
      headers = versionHeaders(config, chosen, match);
      await countRequest(this.release, chosen.version, this.background, this.logError);

      let bound: string | undefined;
      const callFor = (version: ApiVersion, own: PageTokens): VersionedCall => {
        const scope = (): TokenScope => {
          bound ??= tokenQuery(match.resource, query);
          return { tenant, version, query: bound };
        };
        return {
          tenant,
          version,
          reason: chosen.reason,
          config,
          start: () => (own.raw === undefined ? undefined : own.start(scope())),
          nextToken: (key) => (key ? own.next(scope(), key) : null),
        };
      };
      const run = async (version: ApiVersion, own: PageTokens): Promise<Answer<V1 | V2>> => {
        const out: V1 | V2 | Answer<V1> | Answer<V2> = await route[version](input, callFor(version, own));
        return out instanceof Answer ? out : new Answer(out);
      };

      // Reads only, first pages only (a nextToken belongs to one version).
      const shadowing = route.shadow !== false && match.method === "GET" && tokens.raw === undefined && wantsShadow(config, this.random);
      const spec = route.shadow || undefined;
      let answered: Answer<V1 | V2>;
      try {
        answered = await run(chosen.version, tokens);
      } catch (err) {
        if (shadowing && err instanceof ApiError && err.status === 404) this.shadow(match, query, tenant, chosen.version, () => [], run, spec);
        throw err;
      }
      if (shadowing) {
        const body = answered.body;
        this.shadow(match, query, tenant, chosen.version, () => (spec?.ids ?? defaultIds)(body), run, spec);
      }
      return { status: answered.status, headers: { ...headers, ...answered.headers }, body: answered.body };
    } catch (err) {
      return this.errorResult(err, headers);
    }
  }

  private shadow<Out>(
    match: RouteMatch,
    query: Record<string, string>,
    tenant: string,
    primary: ApiVersion,
    primaryIds: () => string[],
    run: (version: ApiVersion, tokens: PageTokens) => Promise<Answer<Out>>,
    spec: Exclude<ShadowSpec<Out>, false> | undefined,
  ): void {
    const ids = spec?.ids ?? (defaultIds as (body: Out) => string[]);
    const names = Object.keys(query).filter((name) => !UNBOUND_QUERY_PARAMETERS.includes(name));
    const route = spec?.route ?? `${match.method} ${match.pattern}${names.length ? `?${names.sort().join("&")}` : ""}`;
    let primaryList: string[];
    try {
      primaryList = primaryIds();
    } catch (err) {
      // The route's comparison failed on the answer: logged, and the answer stands.
      this.logError(err);
      return;
    }
    scheduleShadow(this.background, this.release, this.recheck, {
      route,
      tenant,
      primary,
      primaryIds: primaryList,
      readIds: (version) => idsOf(async () => (await run(version, new PageTokens(this.options.tokenSecret, undefined))).body, ids),
    });
  }

  /** An error as the answer: ApiErrors with their status and code, anything else a 500 without details. */
  private errorResult(err: unknown, headers: Record<string, string>): VersionedResult {
    if (err instanceof ApiError) {
      const extra: Record<string, string> = {};
      if (err instanceof VersionGoneError) extra.Link = `<${err.successor}>; rel="successor-version"`;
      if (err instanceof UsageUnrecordedError) extra["Retry-After"] = "1";
      return { status: err.status, headers: { ...headers, ...extra }, body: { error: { code: err.code, message: err.message } } };
    }
    this.logError(err);
    return { status: 500, headers, body: INTERNAL };
  }
}
