/**
 * Who is calling: the tenant comes from the bearer token's `tenant` claim, never from the
 * request. On AWS the HTTP API's JWT authorizer has already verified the token and the
 * handler reads its claims; locally (`ferry serve`) tokens are HS256 with FERRY_JWT_SECRET.
 */
import { MAX_TENANT_LENGTH, UnauthorizedError, tenantFromClaims, tenantProblem } from "@ferry/core";
import type { Context } from "hono";
import { sign, verify } from "hono/jwt";

/** Resolves the caller's tenant or throws UnauthorizedError. */
export type TenantResolver = (c: Context) => Promise<string>;

/** Longest lifetime of a token the local server accepts (and `ferry token --ttl` issues). */
export const MAX_TOKEN_LIFETIME_SECONDS = 30 * 86_400;
/** Longest tenant id a token may name, and why one cannot be served; `ferry token` refuses the same ids. */

/** A token without `exp` would be valid forever; one expiring too far ahead nearly so. */
function requireExpiry(claims: Record<string, unknown>, nowSeconds: number): void {
  const { exp, iat } = claims;
  if (typeof exp !== "number")
    throw new UnauthorizedError(`the token has no "exp" claim (tokens must expire within ${MAX_TOKEN_LIFETIME_SECONDS / 86_400} days)`);
  const issued = typeof iat === "number" ? Math.min(iat, nowSeconds) : nowSeconds;
  if (exp - issued > MAX_TOKEN_LIFETIME_SECONDS) {
    throw new UnauthorizedError(
      `the token lives longer than ${MAX_TOKEN_LIFETIME_SECONDS / 86_400} days (its "exp" is too far ahead); issue a shorter-lived one`,
    );
  }
}

export interface Hs256Options {
  issuer?: string;
  audience?: string;
  /**
   * Verified tokens kept (by their exact text, until their `exp`), so a client's repeated token
   * skips the HMAC: WebCrypto's verification was about half the app's own time per request
   * (bench/http-profile.ts: 0.2-0.35 of 0.4-0.45 ms). API Gateway's JWT authorizer caches
   * verified tokens on AWS too. 0 turns it off.
   */
  cacheSize?: number;
  /** The clock (ms), for tests. */
  now?: () => number;
}

export const DEFAULT_VERIFIED_TOKEN_CACHE_SIZE = 1_000;

/** Verifies `Authorization: Bearer <HS256 JWT>` with a shared secret (local server). */
export function hs256Tenant(secret: string, options: Hs256Options = {}): TenantResolver {
  const now = options.now ?? Date.now;
  const size = options.cacheSize ?? DEFAULT_VERIFIED_TOKEN_CACHE_SIZE;
  // Insertion order is age: the first key is the oldest.
  const verified = new Map<string, { tenant: string; exp: number }>();
  return async (c) => {
    const header = c.req.header("authorization");
    const match = header?.match(/^Bearer\s+(\S+)$/i);
    const token = match?.[1];
    if (!token) throw new UnauthorizedError("missing bearer token");
    const nowSeconds = Math.floor(now() / 1000);
    const known = verified.get(token);
    if (known) {
      // Signature, issuer, audience, nbf and iat were checked once; only time can make it invalid now.
      if (known.exp > nowSeconds) return known.tenant;
      verified.delete(token);
      throw new UnauthorizedError("invalid token (JwtTokenExpired)");
    }
    let claims: Record<string, unknown>;
    try {
      claims = await verify(token, secret, {
        alg: "HS256",
        ...(options.issuer ? { iss: options.issuer } : {}),
        ...(options.audience ? { aud: options.audience } : {}),
      });
    } catch (err) {
      throw new UnauthorizedError(`invalid token (${err instanceof Error ? err.name : "unverifiable"})`);
    }
    requireExpiry(claims, nowSeconds);
    const tenant = tenantFromClaims(claims);
    if (size > 0) {
      if (verified.size >= size) verified.delete(verified.keys().next().value as string);
      verified.set(token, { tenant, exp: claims.exp as number });
    }
    return tenant;
  };
}

/** Reads the claims API Gateway's JWT authorizer verified (Lambda behind HTTP API). */
export function authorizerTenant(): TenantResolver {
  return async (c) => {
    const event = (c.env as { event?: { requestContext?: { authorizer?: { jwt?: { claims?: Record<string, unknown> } } } } } | undefined)?.event;
    const claims = event?.requestContext?.authorizer?.jwt?.claims;
    if (!claims) throw new UnauthorizedError("no verified JWT claims on the request (is the route behind the JWT authorizer?)");
    return tenantFromClaims(claims);
  };
}

/** Default lifetime of development tokens (`ferry token`). */
export const DEV_TOKEN_TTL_SECONDS = 12 * 3_600;

/** Signs an HS256 development token for a tenant (locally only; on AWS your identity provider issues them). */
export function signDevToken(secret: string, tenant: string, options: { ttlSeconds?: number; subject?: string; now?: number } = {}): Promise<string> {
  const iat = Math.floor((options.now ?? Date.now()) / 1000);
  return sign({ tenant, sub: options.subject ?? `dev:${tenant}`, iat, exp: iat + (options.ttlSeconds ?? DEV_TOKEN_TTL_SECONDS) }, secret, "HS256");
}
