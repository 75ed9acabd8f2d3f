/**
 * Who is calling: the tenant every version choice, usage count and nextToken is bound to.
 * Pluggable per app; by default the `tenant` claim of a JWT the platform already verified
 * (API Gateway HTTP API's JWT authorizer), never a request parameter.
 */
import { UnauthorizedError } from "../api/errors.ts";
import type { VersionedRequest } from "./request.ts";

/** Resolves the caller's tenant from the framework's request (`input`) or throws UnauthorizedError. */
export type TenantResolver<In = unknown> = (input: In, request: VersionedRequest) => string | Promise<string>;

/** The claim naming the tenant, by default. */
export const DEFAULT_TENANT_CLAIM = "tenant";
/** Longest tenant id served (it is part of keys, tokens and records). */
export const MAX_TENANT_LENGTH = 256;

/** Why a tenant id cannot be served (undefined: it can). */
export function tenantProblem(tenant: unknown): string | undefined {
  if (typeof tenant !== "string" || tenant === "") return "is empty";
  if (tenant.length > MAX_TENANT_LENGTH) return `is longer than ${MAX_TENANT_LENGTH} characters`;
  return undefined;
}

/** The tenant named by verified claims, or UnauthorizedError. */
export function tenantFromClaims(claims: Record<string, unknown> | undefined, claim: string = DEFAULT_TENANT_CLAIM): string {
  const tenant = claims?.[claim];
  if (tenantProblem(tenant) !== undefined) throw new UnauthorizedError(`the token has no "${claim}" claim`);
  return tenant as string;
}

/** The default resolver: the claim of the JWT API Gateway's authorizer verified (on Lambda, also behind Hono). */
export function claimTenant(claim: string = DEFAULT_TENANT_CLAIM): TenantResolver {
  return (_input, request) => {
    if (!request.claims) throw new UnauthorizedError("no verified JWT claims on the request (is the route behind the JWT authorizer?)");
    return tenantFromClaims(request.claims, claim);
  };
}
