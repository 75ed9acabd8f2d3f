/**
 * After the remove step retired v1, a v1 request is answered 410 Gone with the successor
 * (the same resource on v2), never served from a model that is being cleaned away.
 */
import { VersionGoneError } from "../api/errors.ts";
import type { ReleaseConfig } from "../release/config.ts";
import type { ChosenVersion } from "./choose.ts";
import type { PathMatch } from "./request.ts";

/** The v2 path of a request: `/api/v1/x` becomes `/api/v2/x`, an unversioned `/api/x` also `/api/v2/x` (never itself). */
export function successorPath(match: PathMatch): string {
  return `${match.prefix}/v2${match.resource}`;
}

/** Throws VersionGoneError when the chosen version is v1 and v1 was retired. */
export function refuseRetired(config: ReleaseConfig, chosen: ChosenVersion, path: string, match: PathMatch): void {
  if (chosen.version === "v1" && config.v1RetiredAt) throw new VersionGoneError(path, successorPath(match));
}
