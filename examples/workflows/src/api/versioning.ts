/**
 * Versioning lives here, in the API layer: which version answers a request (path, then the
 * Accept-Version header, then the release configuration of the migration that owns the
 * route), and the headers that say so: X-Api-Version always, and on v1 once the move has
 * started, Deprecation (RFC 9745), Sunset (RFC 8594) and a successor-version Link.
 */
import { UnknownVersionError, VersionGoneError, type ApiVersion, type ReleaseConfig, type VersionReason, versionFor } from "@ferry/core";
import type { Context } from "hono";

export interface ChosenVersion {
  version: ApiVersion;
  reason: VersionReason | "path" | "header";
}

/** `1`, `2`, `v1` or `v2` in Accept-Version; anything else is a 400. */
export function parseAcceptVersion(header: string | undefined): ApiVersion | undefined {
  if (header === undefined || header.trim() === "") return undefined;
  const value = header.trim().toLowerCase();
  if (value === "1" || value === "v1") return "v1";
  if (value === "2" || value === "v2") return "v2";
  throw new UnknownVersionError(header.slice(0, 20));
}

/** The version for this request; `pathVersion` is set on /v1 and /v2 routes. */
export function chooseVersion(c: Context, config: ReleaseConfig, tenant: string, pathVersion?: ApiVersion): ChosenVersion {
  const chosen: ChosenVersion = pathVersion
    ? { version: pathVersion, reason: "path" }
    : (() => {
        const header = parseAcceptVersion(c.req.header("accept-version"));
        return header ? { version: header, reason: "header" as const } : versionFor(config, tenant);
      })();
  if (chosen.version === "v1" && config.v1RetiredAt) throw new VersionGoneError(c.req.path, successorPath(c.req.path));
  return chosen;
}

/** Sets X-Api-Version and, on v1 after the move started, the deprecation headers. */
export function setVersionHeaders(c: Context, config: ReleaseConfig, chosen: ChosenVersion): void {
  c.header("X-Api-Version", chosen.version);
  c.header("Vary", "Authorization, Accept-Version");
  if (chosen.version !== "v1" || !config.moveStartedAt) return;
  c.header("Deprecation", `@${Math.floor(Date.parse(config.moveStartedAt) / 1000)}`);
  if (config.sunsetAt) c.header("Sunset", new Date(config.sunsetAt).toUTCString());
  c.header("Link", `<${successorPath(c.req.path)}>; rel="successor-version"`);
}

/** The v2 path of a v1 request: /v1/x becomes /v2/x, and an unversioned /x (v1 by header or split) /v2/x, never itself. */
export function successorPath(path: string): string {
  return path.startsWith("/v1/") ? path.replace(/^\/v1\//, "/v2/") : `/v2${path}`;
}
