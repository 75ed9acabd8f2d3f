/**
 * Step 4, move, as a lifecycle phase over the release configuration (release/store.ts).
 * Guards apply to the first move to v2 only (the backfill completed, verify clean, or
 * `--force --reason`); ramping further, and flipping back to v1, are never refused (v1 is
 * always the safe side until remove retires it). Complete: v2 serves 100%. Rollback: every
 * tenant back on v1, and tenants pinned to v2 unpinned.
 */
import type { ApiVersion, ReleaseConfig } from "../../release/config.ts";
import { type MoveRequest, V1RetiredError, checkMoveRequest, moveRelease, pinTenant, readRelease } from "../../release/store.ts";
import type { VerifyOptions } from "../../verify/verifier.ts";
import { verifyMigration } from "../../verify/verify-migration.ts";
import { kindOf } from "../../kinds/registry.ts";
import { ConvertIncompleteError, type GuardRefusedError, VerifyNotCleanError, backfillRun, orderGuards } from "../guards.ts";
import { verificationOf } from "../state.ts";
import { type MoveRollback, type Phase, controlLocation, patchStateOf } from "../phase.ts";
import { unlessMissingTable } from "../../dynamo/missing-table.ts";

export interface MovePhaseOptions {
  to: ApiVersion;
  percent?: number;
  shadow?: number;
  reason?: string;
  sunsetDays?: number;
  /** --force was given: run verify even when the backfill guard already refuses (to record both). */
  force?: boolean;
  /** Options of the verify the first move runs (default: recheck defects once after 2 s, for live writes). */
  verify?: Partial<VerifyOptions>;
}

export const DEFAULT_MOVE_VERIFY: Partial<VerifyOptions> = { recheckAfterMs: 2_000, rechecks: 1 };

export interface MoveResult {
  before: ReleaseConfig;
  after: ReleaseConfig;
  /** The guards of the first move ran (false for later moves and flips back). */
  guarded: boolean;
}

export const movePhase: Phase<MovePhaseOptions, MoveResult> = {
  step: "move",
  async validate(ctx, state, options) {
    if (options.to === "v1") return [];
    const order = orderGuards(ctx, state, "move");
    if (order.length) return order;
    const release = await readRelease(controlLocation(ctx));
    if (release.moveStartedAt) return [];
    const failures: GuardRefusedError[] = [];
    const run = await backfillRun(ctx);
    if (run?.status !== "completed") {
      failures.push(new ConvertIncompleteError(ctx.migration.id, run?.status));
      // Refused anyway: spare the full-table verify unless --force will override both.
      if (!options.force) return failures;
    }
    const report = await verifyMigration(ctx.clients, ctx.tableName, ctx.migration, { ...DEFAULT_MOVE_VERIFY, ...options.verify });
    const counts = { missing: report.missing, orphans: report.orphans, different: report.different, invalidSources: report.invalidSources };
    await patchStateOf(ctx, { verification: verificationOf(report, new Date(ctx.guards.now())) });
    if (!report.clean) failures.push(new VerifyNotCleanError(ctx.migration.id, counts));
    // What the kind adds (attributes: the index it feeds is ACTIVE).
    failures.push(...(await kindOf(ctx.migration).moveProblems(ctx, report)));
    return failures;
  },
  async start(ctx, options, record) {
    const release = await readRelease(controlLocation(ctx));
    const guarded = options.to === "v2" && !release.moveStartedAt;
    // A move that cannot happen (bad flags, v1 retired) is refused before it is recorded.
    checkMoveRequest(options);
    if (options.to === "v1" && release.v1RetiredAt) throw new V1RetiredError(ctx.migration.id);
    await record();
    const request: MoveRequest = {
      to: options.to,
      actor: ctx.actor,
      now: () => new Date(ctx.guards.now()),
      ...(options.percent !== undefined ? { percent: options.percent } : {}),
      ...(options.shadow !== undefined ? { shadow: options.shadow } : {}),
      ...(options.reason ? { reason: options.reason } : {}),
      ...(options.sunsetDays !== undefined ? { sunsetDays: options.sunsetDays } : {}),
    };
    const { before, after } = await moveRelease(controlLocation(ctx), request);
    return { before, after, guarded };
  },
  isComplete: (_ctx, result) => result.after.v2Percent === 100,
  async rollback(ctx): Promise<MoveRollback> {
    const location = controlLocation(ctx);
    const release = await unlessMissingTable(readRelease(location), undefined);
    if (!release) return { flipped: false };
    const v2Pins = Object.entries(release.pins)
      .filter(([, v]) => v === "v2")
      .map(([tenant]) => tenant);
    for (const tenant of v2Pins) await pinTenant(location, tenant, undefined, ctx.actor);
    const flipped = release.v2Percent > 0;
    if (flipped) await moveRelease(location, { to: "v1", actor: ctx.actor, reason: "rollback", now: () => new Date(ctx.guards.now()) });
    return { flipped, fromPercent: release.v2Percent, unpinned: v2Pins };
  },
};
