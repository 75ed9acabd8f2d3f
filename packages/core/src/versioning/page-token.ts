/**
 * A request's nextToken (../api/next-token.ts: HMAC-signed, bound to tenant, version and
 * query). The query a token is bound to is the resource path after the version and the
 * request's query parameters except `nextToken` and `limit` (a client may change its page
 * size between pages), sorted: `/widgets?color=red`. The signature is checked once per
 * request and only when needed.
 */
import { type ResumeKey, type TokenScope, checkTokenScope, encodeNextToken, verifyNextToken } from "../api/next-token.ts";
import type { ApiVersion } from "../release/config.ts";

/** Query parameters a token is not bound to. */
export const UNBOUND_QUERY_PARAMETERS: readonly string[] = ["nextToken", "limit"];

/** `/widgets?a=1&b=2`: what a token continues. */
export function tokenQuery(resource: string, query: Record<string, string>): string {
  const names = Object.keys(query)
    .filter((name) => !UNBOUND_QUERY_PARAMETERS.includes(name))
    .sort();
  if (names.length === 0) return resource;
  return `${resource}?${names.map((name) => `${encodeURIComponent(name)}=${encodeURIComponent(query[name] ?? "")}`).join("&")}`;
}

export class PageTokens {
  private verified?: ReturnType<typeof verifyNextToken>;
  private failure?: unknown;

  constructor(
    private readonly secret: string,
    /** The request's nextToken, if any. */
    readonly raw: string | undefined,
  ) {}

  /** The version that issued the request's token, for unversioned routes; undefined without a (valid) token. */
  issuedVersion(): ApiVersion | undefined {
    if (this.raw === undefined) return undefined;
    try {
      const issued = this.verify().scope.version;
      return issued === "v1" || issued === "v2" ? issued : undefined;
    } catch {
      return undefined; // the route's start() answers the 400
    }
  }

  /** Where the page starts: undefined without a token; InvalidNextTokenError when it is not this scope's. */
  start(scope: TokenScope): ResumeKey | undefined {
    if (this.raw === undefined) return undefined;
    return checkTokenScope(this.verify(), scope);
  }

  /** The token continuing at `key`, null at the end. */
  next(scope: TokenScope, key: ResumeKey | undefined): string | null {
    return key ? encodeNextToken(this.secret, scope, key) : null;
  }

  private verify(): ReturnType<typeof verifyNextToken> {
    if (this.failure) throw this.failure;
    try {
      this.verified ??= verifyNextToken(this.secret, this.raw ?? "");
      return this.verified;
    } catch (err) {
      this.failure = err;
      throw err;
    }
  }
}
