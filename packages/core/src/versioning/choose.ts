/**
 * Which version answers a request: the path (`/v1`, `/v2`), then the version of the
 * request's nextToken (a token keeps its pages on the version that issued it, even across a
 * flip), then the `Accept-Version` header, then the release configuration (pins, then the
 * sticky per-tenant share).
 */
import { UnknownVersionError } from "../api/errors.ts";
import { type ApiVersion, type ReleaseConfig, type VersionReason, versionFor } from "../release/config.ts";

export type ChoiceReason = VersionReason | "path" | "token" | "header";

export interface ChosenVersion {
  version: ApiVersion;
  reason: ChoiceReason;
}

/** `v1` or `v2` as a path segment; anything else is a 400. */
export function parseVersionSegment(segment: string): ApiVersion {
  if (segment === "v1" || segment === "v2") return segment;
  throw new UnknownVersionError(segment.slice(0, 20));
}

/** `1`, `2`, `v1` or `v2` in Accept-Version; anything else is a 400. */
export function parseAcceptVersion(header: string | undefined): ApiVersion | undefined {
  if (header === undefined || header.trim() === "") return undefined;
  const value = header.trim().toLowerCase();
  if (value === "1" || value === "v1") return "v1";
  if (value === "2" || value === "v2") return "v2";
  throw new UnknownVersionError(header.slice(0, 20));
}

/** What the request itself says (each read only when the ones before say nothing). */
export interface ExplicitVersion {
  path?: ApiVersion;
  token?: () => ApiVersion | undefined;
  header?: () => string | undefined;
}

export function chooseVersion(config: ReleaseConfig, tenant: string, explicit: ExplicitVersion): ChosenVersion {
  if (explicit.path) return { version: explicit.path, reason: "path" };
  const token = explicit.token?.();
  if (token) return { version: token, reason: "token" };
  const header = parseAcceptVersion(explicit.header?.());
  if (header) return { version: header, reason: "header" };
  return versionFor(config, tenant);
}
