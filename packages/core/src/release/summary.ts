/**
 * The move step at a glance, for `ferry status`: the traffic split, the shadow-read evidence,
 * when each version was last used, and the latest audit entries.
 */
import { type ReleaseChange, type ReleaseConfig, describeSplit } from "./config.ts";
import { type ShadowStats, describeShadowAgreement, readShadowStats } from "./shadow.ts";
import type { ControlLocation } from "../control/keys.ts";
import { readRelease } from "./store.ts";
import { type VersionUsage, readUsage } from "./usage.ts";

export interface ReleaseSummary {
  config: ReleaseConfig;
  /** e.g. "v2 for 25% of tenants, v1 for the rest". */
  split: string;
  shadow: ShadowStats;
  /** Requests in the last `windowMs` and the last use, per version. */
  usage: { windowMs: number; v1: VersionUsage; v2: VersionUsage };
  /** Newest last. */
  recentChanges: ReleaseChange[];
}

/** Default usage window shown by status: the last hour. */
export const DEFAULT_USAGE_WINDOW_MS = 3_600_000;

export async function readReleaseSummary(
  location: ControlLocation,
  options: { windowMs?: number; changes?: number; now?: number } = {},
): Promise<ReleaseSummary> {
  const windowMs = options.windowMs ?? DEFAULT_USAGE_WINDOW_MS;
  const since = (options.now ?? Date.now()) - windowMs;
  const [config, shadow, v1, v2] = await Promise.all([
    readRelease(location),
    readShadowStats(location),
    readUsage(location, "v1", since),
    readUsage(location, "v2", since),
  ]);
  return { config, split: describeSplit(config), shadow, usage: { windowMs, v1, v2 }, recentChanges: config.history.slice(-(options.changes ?? 5)) };
}

/** Lines for the human status view. */
export function describeReleaseSummary(summary: ReleaseSummary): string[] {
  const { shadow, usage } = summary;
  const ago = (ms?: number) => (ms === undefined ? "never" : `${Math.max(0, Math.round((Date.now() - ms) / 1000))} s ago`);
  const lines = [
    `traffic: ${summary.split}${Object.keys(summary.config.pins).length ? ` (${Object.keys(summary.config.pins).length} pinned tenants)` : ""}; shadow reads ${summary.config.shadowPercent}%`,
    shadow.compared > 0 ? `shadow agreement: ${describeShadowAgreement(shadow)}; ${shadow.errors} errors` : "shadow agreement: no comparisons yet",
    `requests in the last ${Math.round(usage.windowMs / 60_000)} min: v1 ${usage.v1.requestsSince} (last ${ago(usage.v1.lastUsedAt)}), v2 ${usage.v2.requestsSince} (last ${ago(usage.v2.lastUsedAt)})`,
  ];
  if (summary.config.v1RetiredAt) lines.push(`v1 retired at ${summary.config.v1RetiredAt}`);
  for (const change of summary.recentChanges) {
    lines.push(
      `  ${change.at} ${change.actor}: ${change.action} v2 ${change.from.v2Percent}% -> ${change.to.v2Percent}%, shadow ${change.from.shadowPercent}% -> ${change.to.shadowPercent}%${change.reason ? ` (${change.reason})` : ""}`,
    );
  }
  for (const d of shadow.disagreements.slice(0, 3)) {
    lines.push(
      `  persistent disagreement ${d.at} ${d.route} tenant ${d.tenant}${d.rechecks ? ` (${d.rechecks} re-checks)` : ""}: only ${d.primary} ${JSON.stringify(d.onlyPrimary.slice(0, 3))}, only the other ${JSON.stringify(d.onlyShadow.slice(0, 3))}`,
    );
  }
  return lines;
}
