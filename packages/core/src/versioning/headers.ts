/**
 * The headers saying which version answered: X-Api-Version always (and Vary, since the
 * answer depends on the caller and Accept-Version), and on v1 once the move has started,
 * Deprecation (RFC 9745), Sunset (RFC 8594) and a successor-version Link.
 */
import type { ReleaseConfig } from "../release/config.ts";
import type { ChosenVersion } from "./choose.ts";
import type { PathMatch } from "./request.ts";
import { successorPath } from "./retirement.ts";

export function versionHeaders(config: ReleaseConfig, chosen: ChosenVersion, match: PathMatch): Record<string, string> {
  const headers: Record<string, string> = { "X-Api-Version": chosen.version, Vary: "Authorization, Accept-Version" };
  if (chosen.version !== "v1" || !config.moveStartedAt) return headers;
  headers.Deprecation = `@${Math.floor(Date.parse(config.moveStartedAt) / 1000)}`;
  if (config.sunsetAt) headers.Sunset = new Date(config.sunsetAt).toUTCString();
  headers.Link = `<${successorPath(match)}>; rel="successor-version"`;
  return headers;
}
