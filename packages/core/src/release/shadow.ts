/**
 * Shadow reads (the Scientist pattern): for a share of requests the server also runs the
 * other version after answering and compares the workflow ids. A disagreement can be the
 * dual-write's lag (a change still in the stream), so it is re-checked: both versions are
 * read again after a delay, a bounded number of times, as verify re-judges its in-flight
 * defects; only one that persists through every re-check is a divergence. The counts (raw,
 * and lagged vs persistent) and the first persistent examples are kept in the control table
 * (SK `shadow`), the evidence a release manager reads in `ferry status` before raising the
 * percentage.
 */
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { type ControlLocation, ControlSk, controlKey } from "../control/keys.ts";
import { UsageError } from "../errors.ts";
import { sleep } from "../util/backoff.ts";
import type { ApiVersion } from "./config.ts";

/** Persistent disagreements kept with their details (the first ones: the rest are only counted). */
export const MAX_DISAGREEMENTS_KEPT = 10;
/** Ids listed per side of one disagreement. */
const MAX_IDS_LISTED = 20;

/** How a disagreement is re-checked before it counts as a divergence. */
export interface ShadowRecheckOptions {
  /**
   * Delay before each re-read of both versions: the dual-write lag a disagreement is allowed
   * (the benchmark's p99 at 200 writes/s is under 1 s on DynamoDB Local).
   */
  recheckAfterMs: number;
  /** Re-reads at most; 0 counts every disagreement as persistent at once (no re-check). */
  rechecks: number;
}

/**
 * 1 s, 3 times: a comparison settles within about 3 s after the answer, with at most 6 more
 * reads. On Lambda the invocation drains it before returning, so this is also what a
 * disagreeing shadow read can add to that invocation.
 */
export const DEFAULT_SHADOW_RECHECK: ShadowRecheckOptions = { recheckAfterMs: 1_000, rechecks: 3 };

/** Upper bounds of the re-check options, so background work stays bounded in time and calls. */
export const SHADOW_RECHECK_LIMITS = { recheckAfterMs: 30_000, rechecks: 10 } as const;

export class InvalidShadowRecheckOptionsError extends UsageError {
  constructor(readonly problems: string[]) {
    super(`Invalid shadow re-check options: ${problems.join("; ")}. Use a smaller delay or fewer re-checks.`);
  }
}

/** The options with their defaults, checked against the limits. */
export function shadowRecheckOptions(options: Partial<ShadowRecheckOptions> = {}): ShadowRecheckOptions {
  const o = { ...DEFAULT_SHADOW_RECHECK, ...options };
  const problems: string[] = [];
  if (!Number.isInteger(o.recheckAfterMs) || o.recheckAfterMs < 0 || o.recheckAfterMs > SHADOW_RECHECK_LIMITS.recheckAfterMs) {
    problems.push(`recheckAfterMs must be an integer from 0 to ${SHADOW_RECHECK_LIMITS.recheckAfterMs} (got ${o.recheckAfterMs})`);
  }
  if (!Number.isInteger(o.rechecks) || o.rechecks < 0 || o.rechecks > SHADOW_RECHECK_LIMITS.rechecks) {
    problems.push(`rechecks must be an integer from 0 to ${SHADOW_RECHECK_LIMITS.rechecks} (got ${o.rechecks})`);
  }
  if (problems.length) throw new InvalidShadowRecheckOptionsError(problems);
  return o;
}

/** One comparison whose disagreement persisted through every re-check. */
export interface Disagreement {
  /** When the first comparison disagreed. */
  at: string;
  /** When the last re-check still disagreed. */
  lastCheckedAt?: string;
  /** Re-checks made (each read both versions again). */
  rechecks?: number;
  route: string;
  tenant: string;
  primary: ApiVersion;
  /** Ids only the primary version returned, at every check. */
  onlyPrimary: string[];
  /** Ids only the shadow version returned, at every check. */
  onlyShadow: string[];
}

export interface ShadowStats {
  compared: number;
  /** Agreed at the first comparison. */
  agreed: number;
  /** Disagreed at the first comparison (raw), whether or not the re-check resolved it. */
  disagreed: number;
  /** Disagreements that agreed on a re-check: the dual-write's lag, not a divergence. */
  lagged: number;
  /** Disagreements that persisted through every re-check: divergences. */
  persistent: number;
  /** Disagreements neither lagged nor persistent yet: re-checks running, or cut short (a failed read, a stopped server). */
  unsettled: number;
  /** Shadow runs that failed (errors are counted, never shown to the client). */
  errors: number;
  /** Raw agreement: agreed / compared, undefined before the first comparison. */
  agreement?: number;
  /** Agreement after re-check: (agreed + lagged) / (agreed + lagged + persistent), over the settled comparisons. */
  agreementAfterRecheck?: number;
  /** The first persistent disagreements. */
  disagreements: Disagreement[];
}

/** Compares two id lists as sets (order is the primary's concern, not the model's). */
export function compareIds(primary: string[], shadow: string[]): { agreed: boolean; onlyPrimary: string[]; onlyShadow: string[] } {
  const a = new Set(primary);
  const b = new Set(shadow);
  const onlyPrimary = [...a].filter((id) => !b.has(id));
  const onlyShadow = [...b].filter((id) => !a.has(id));
  return { agreed: onlyPrimary.length === 0 && onlyShadow.length === 0, onlyPrimary, onlyShadow };
}

/** What one step of a shadow comparison adds to the record. */
export type ShadowOutcome =
  /** The first comparison (raw): agreed or not. */
  | { kind: "compared"; agreed: boolean }
  /** A disagreement that agreed on a re-check. */
  | { kind: "lagged" }
  /** A disagreement that persisted; its details are kept while fewer than MAX_DISAGREEMENTS_KEPT are. */
  | { kind: "persistent"; disagreement: Disagreement }
  /** A shadow read (first or re-check) that failed. */
  | { kind: "error" };

const COUNTER: Record<ShadowOutcome["kind"], string> = { compared: "compared", lagged: "lagged", persistent: "persistent", error: "errors" };

/** Records one step of a comparison in the control table. */
export async function recordShadow(location: ControlLocation, outcome: ShadowOutcome): Promise<void> {
  const key = controlKey(location.migrationId, ControlSk.shadow);
  const update = (UpdateExpression: string, values: Record<string, unknown>, ConditionExpression?: string) =>
    location.doc.send(
      new UpdateCommand({
        TableName: location.controlTable,
        Key: key,
        UpdateExpression,
        ExpressionAttributeValues: values,
        ...(ConditionExpression ? { ConditionExpression } : {}),
      }),
    );
  if (outcome.kind === "compared") {
    const agreed = outcome.agreed ? 1 : 0;
    await update("ADD compared :one, agreed :a, disagreed :d", { ":one": 1, ":a": agreed, ":d": 1 - agreed });
    return;
  }
  await update(`ADD ${COUNTER[outcome.kind]} :one`, { ":one": 1 });
  if (outcome.kind !== "persistent") return;
  const d = outcome.disagreement;
  const entry: Disagreement = { ...d, onlyPrimary: d.onlyPrimary.slice(0, MAX_IDS_LISTED), onlyShadow: d.onlyShadow.slice(0, MAX_IDS_LISTED) };
  try {
    await update(
      "SET disagreements = list_append(if_not_exists(disagreements, :empty), :entry)",
      { ":empty": [], ":entry": [entry], ":max": MAX_DISAGREEMENTS_KEPT },
      "attribute_not_exists(disagreements) OR size(disagreements) < :max",
    );
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
  }
}

/** One shadow comparison of a route, as the API hands it over after answering. */
export interface ShadowComparison {
  route: string;
  tenant: string;
  /** The version that answered the client. */
  primary: ApiVersion;
  /** The ids the client got. */
  primaryIds: string[];
  /** Reads the route's ids again from one version (the same query the client's answer came from). */
  readIds: (version: ApiVersion) => Promise<string[]>;
}

export type ShadowVerdict = "agreed" | "lagged" | "persistent" | "error";

const otherVersion = (version: ApiVersion): ApiVersion => (version === "v1" ? "v2" : "v1");

/**
 * Runs the shadow version, compares, and re-checks a disagreement: after each delay both
 * versions are read again; it is lagged as soon as they agree, or as soon as no id has been
 * off at every check (what differed then was changes in flight, each settled within one
 * delay); it is persistent when some id stays off through every re-check. At most
 * `1 + 2 * rechecks` reads and three writes; call it after the answer (background work).
 */
export async function runShadowComparison(
  location: ControlLocation,
  comparison: ShadowComparison,
  options: Partial<ShadowRecheckOptions> & { wait?: (ms: number) => Promise<void> } = {},
): Promise<ShadowVerdict> {
  const o = shadowRecheckOptions({
    ...(options.recheckAfterMs !== undefined ? { recheckAfterMs: options.recheckAfterMs } : {}),
    ...(options.rechecks !== undefined ? { rechecks: options.rechecks } : {}),
  });
  const wait = options.wait ?? sleep;
  const { primary } = comparison;
  const at = new Date();
  let diff: ReturnType<typeof compareIds>;
  try {
    diff = compareIds(comparison.primaryIds, await comparison.readIds(otherVersion(primary)));
  } catch {
    await recordShadow(location, { kind: "error" });
    return "error";
  }
  await recordShadow(location, { kind: "compared", agreed: diff.agreed });
  if (diff.agreed) return "agreed";

  // Ids off at every check so far, per side: a divergence keeps them; lag moves on.
  let stuckPrimary = new Set(diff.onlyPrimary);
  let stuckShadow = new Set(diff.onlyShadow);
  let rechecks = 0;
  let lastCheckedAt = at;
  while (rechecks < o.rechecks) {
    await wait(o.recheckAfterMs);
    rechecks++;
    try {
      const [p, s] = await Promise.all([comparison.readIds(primary), comparison.readIds(otherVersion(primary))]);
      diff = compareIds(p, s);
    } catch {
      // Unsettled: neither a lag shown nor a divergence proven.
      await recordShadow(location, { kind: "error" });
      return "error";
    }
    lastCheckedAt = new Date();
    const now = { primary: new Set(diff.onlyPrimary), shadow: new Set(diff.onlyShadow) };
    stuckPrimary = new Set([...stuckPrimary].filter((id) => now.primary.has(id)));
    stuckShadow = new Set([...stuckShadow].filter((id) => now.shadow.has(id)));
    if (diff.agreed || (stuckPrimary.size === 0 && stuckShadow.size === 0)) {
      await recordShadow(location, { kind: "lagged" });
      return "lagged";
    }
  }
  await recordShadow(location, {
    kind: "persistent",
    disagreement: {
      at: at.toISOString(),
      ...(rechecks > 0 ? { lastCheckedAt: lastCheckedAt.toISOString() } : {}),
      rechecks,
      route: comparison.route,
      tenant: comparison.tenant,
      primary,
      onlyPrimary: [...stuckPrimary].sort(),
      onlyShadow: [...stuckShadow].sort(),
    },
  });
  return "persistent";
}

/** The shadow-read evidence so far. */
export async function readShadowStats(location: ControlLocation): Promise<ShadowStats> {
  const out = await location.doc.send(
    new GetCommand({ TableName: location.controlTable, Key: controlKey(location.migrationId, ControlSk.shadow), ConsistentRead: true }),
  );
  const item = out.Item ?? {};
  const count = (name: string) => Number(item[name] ?? 0);
  const [compared, agreed, disagreed, lagged, persistent] = ["compared", "agreed", "disagreed", "lagged", "persistent"].map(count) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const settled = agreed + lagged + persistent;
  return {
    compared,
    agreed,
    disagreed,
    lagged,
    persistent,
    unsettled: Math.max(0, disagreed - lagged - persistent),
    errors: count("errors"),
    ...(compared > 0 ? { agreement: agreed / compared } : {}),
    ...(settled > 0 ? { agreementAfterRecheck: (agreed + lagged) / settled } : {}),
    disagreements: Array.isArray(item.disagreements) ? (item.disagreements as Disagreement[]) : [],
  };
}

/** "95.0% raw, 100.0% after re-check (2 lagged, 0 persistent)": both figures, for status and the demo. */
export function describeShadowAgreement(stats: ShadowStats): string {
  const pct = (x?: number) => (x === undefined ? "-" : `${(100 * x).toFixed(1)}%`);
  const unsettled = stats.unsettled ? `, ${stats.unsettled} unsettled` : "";
  return `${pct(stats.agreement)} raw, ${pct(stats.agreementAfterRecheck)} after re-check of ${stats.compared} comparisons (${stats.lagged} lagged, ${stats.persistent} persistent${unsettled})`;
}
