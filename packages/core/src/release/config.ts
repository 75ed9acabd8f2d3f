/**
 * The release configuration of one migration: which API version (v1 old model, v2 new
 * model) each tenant is served by default. It lives beside the migration's state in the
 * control table (PK `migration#<id>`, SK `release`) so that a flip is one conditional write
 * that every server picks up within its cache time, without a deploy.
 *
 * zod schemas are the source of the types; the stored record is parsed on every read so a
 * hand-edited record fails with the field named instead of routing traffic wrongly.
 */
import { createHash } from "node:crypto";
import { z } from "zod";

export const ApiVersion = z.enum(["v1", "v2"]);
export type ApiVersion = z.infer<typeof ApiVersion>;

export const Percent = z.number().int().min(0).max(100);

/** One change of the release configuration, appended to the audit history. */
export const ReleaseChange = z.object({
  /** ISO time. */
  at: z.string(),
  actor: z.string(),
  action: z.enum(["move", "pin", "unpin", "retire-v1", "restore-v1"]),
  from: z.object({ v2Percent: Percent, shadowPercent: Percent }),
  to: z.object({ v2Percent: Percent, shadowPercent: Percent }),
  reason: z.string().optional(),
  tenant: z.string().optional(),
});
export type ReleaseChange = z.infer<typeof ReleaseChange>;

export const ReleaseConfig = z.object({
  /** Share of tenants served v2 by default (sticky: a tenant's bucket is a hash of its id). */
  v2Percent: Percent,
  /** Share of requests that also run the other version after answering, to compare. */
  shadowPercent: Percent,
  /** Tenants pinned to a version whatever the percentage says. */
  pins: z.record(z.string(), ApiVersion),
  /** ISO time of the first move to v2: from then on v1 answers carry Deprecation/Sunset. */
  moveStartedAt: z.string().optional(),
  /** ISO date after which v1 may be removed (the Sunset header). */
  sunsetAt: z.string().optional(),
  /** Set by the remove step: v1 answers 410 Gone and unversioned routes always serve v2. */
  v1RetiredAt: z.string().optional(),
  /** Newest last; capped at {@link HISTORY_LIMIT} entries. */
  history: z.array(ReleaseChange),
  /** Optimistic-concurrency counter: every write increments it. */
  revision: z.number().int().min(0),
});
export type ReleaseConfig = z.infer<typeof ReleaseConfig>;

/** The configuration before any move: everyone on v1, no shadow reads. */
export const INITIAL_RELEASE: ReleaseConfig = { v2Percent: 0, shadowPercent: 0, pins: {}, history: [], revision: 0 };

/** Audit entries kept in the record (older ones are dropped; the record must stay far below 400 KB). */
export const HISTORY_LIMIT = 200;

/** A tenant's canary bucket in [0, 100): stable, so raising the percentage only adds tenants. */
export function tenantBucket(tenant: string): number {
  return createHash("sha256").update(tenant).digest().readUInt32BE(0) % 100;
}

/** How a version was chosen, for the X-Api-Version-Reason style diagnostics and tests. */
export type VersionReason = "pinned" | "canary" | "default" | "retired";

/** The version a tenant is served on unversioned routes. */
export function versionFor(config: ReleaseConfig, tenant: string): { version: ApiVersion; reason: VersionReason } {
  if (config.v1RetiredAt) return { version: "v2", reason: "retired" };
  const pinned = config.pins[tenant];
  if (pinned) return { version: pinned, reason: "pinned" };
  if (config.v2Percent === 100) return { version: "v2", reason: "default" };
  if (config.v2Percent === 0) return { version: "v1", reason: "default" };
  return { version: tenantBucket(tenant) < config.v2Percent ? "v2" : "v1", reason: "canary" };
}

/** The default version in words: "v1", "v2", or "v2 for 25% of tenants". */
export function describeSplit(config: ReleaseConfig): string {
  if (config.v1RetiredAt) return "v2 (v1 retired)";
  if (config.v2Percent === 0) return "v1";
  if (config.v2Percent === 100) return "v2";
  return `v2 for ${config.v2Percent}% of tenants, v1 for the rest`;
}
