/**
 * Sort keys of the usage records under a migration's partition (control table): the minute
 * buckets of request counts and the records of the servers counting them. (To be folded
 * into control/keys.ts with the other namespaces.)
 */
import type { ApiVersion } from "./config.ts";

export const USAGE_SK_PREFIX = "usage#";
/** `usage#v1#2026-11-23T07:05`: minute buckets sort by time. */
export const usageSk = (version: ApiVersion, minute: string) => `${USAGE_SK_PREFIX}${version}#${minute}`;
/** How long minute buckets and server records are kept (TTL attribute `expiresAt`). */
export const USAGE_RETENTION_SECONDS = 7 * 86_400;

export const SERVER_SK_PREFIX = "server#";
/** `server#<host>:<pid>:<random>`: one record per API server (process) and migration. */
export const serverSk = (serverId: string) => `${SERVER_SK_PREFIX}${serverId}`;
