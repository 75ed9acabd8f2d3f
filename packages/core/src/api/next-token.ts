/**
 * Opaque, tamper-proof pagination tokens. A token is the base64url JSON of where to resume,
 * bound to the caller's tenant, the version and the query it was issued for, plus an
 * HMAC-SHA256 over all of it. A changed byte, another tenant's token or a token of another
 * query is refused: the API never starts a Query from a key an attacker chose.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { InvalidNextTokenError } from "./errors.ts";

/** What a token binds: it is valid only for the same tenant, version and query. */
export interface TokenScope {
  tenant: string;
  version: string;
  /** The query it continues, e.g. `context=ctx-00001`. */
  query: string;
}

/** Where the next page starts (a DynamoDB ExclusiveStartKey). */
export type ResumeKey = Record<string, string | number>;

/** Tokens older than this are refused (the data may have moved on; start again). */
export const NEXT_TOKEN_MAX_AGE_MS = 24 * 3_600_000;

interface Payload {
  s: TokenScope;
  k: ResumeKey;
  /** Issued at, ms. */
  i: number;
}

function mac(secret: string, body: string): Buffer {
  return createHmac("sha256", secret).update(body).digest();
}

/** Signs a resume key for this scope. */
export function encodeNextToken(secret: string, scope: TokenScope, key: ResumeKey, now = Date.now()): string {
  const body = Buffer.from(JSON.stringify({ s: scope, k: key, i: now } satisfies Payload)).toString("base64url");
  return `${body}.${mac(secret, body).toString("base64url")}`;
}

/** Checks the signature and age only; returns what the token binds and where it resumes. */
export function verifyNextToken(secret: string, token: string, now = Date.now()): { scope: TokenScope; key: ResumeKey } {
  const [body, signature, extra] = token.split(".");
  if (!body || !signature || extra !== undefined) throw new InvalidNextTokenError("malformed");
  const expected = mac(secret, body);
  const given = Buffer.from(signature, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new InvalidNextTokenError("bad signature");
  let payload: Payload;
  try {
    payload = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as Payload;
  } catch {
    throw new InvalidNextTokenError("malformed");
  }
  if (typeof payload.s !== "object" || payload.s === null || typeof payload.k !== "object" || payload.k === null) throw new InvalidNextTokenError("malformed");
  if (typeof payload.i !== "number" || now - payload.i > NEXT_TOKEN_MAX_AGE_MS) throw new InvalidNextTokenError("expired");
  return { scope: payload.s, key: payload.k };
}

/** Checks signature, scope and age; returns the resume key or throws InvalidNextTokenError. */
export function decodeNextToken(secret: string, scope: TokenScope, token: string, now = Date.now()): ResumeKey {
  return checkTokenScope(verifyNextToken(secret, token, now), scope);
}

/** The resume key of an already verified token, if it was issued for this scope. */
export function checkTokenScope(verified: { scope: TokenScope; key: ResumeKey }, scope: TokenScope): ResumeKey {
  if (verified.scope.tenant !== scope.tenant) throw new InvalidNextTokenError("issued to another tenant");
  if (verified.scope.query !== scope.query) throw new InvalidNextTokenError("issued for another query");
  if (verified.scope.version !== scope.version)
    throw new InvalidNextTokenError(`issued by ${verified.scope.version}, this request is served by ${scope.version}`);
  return verified.key;
}
