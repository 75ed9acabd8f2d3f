/**
 * `ferry unretire`: the way back after remove, a lifecycle action beside the steps (it calls
 * the orchestrator's guard enforcement, which the phases never import). Its guards live with
 * the remove phase (phases/remove.ts, unretireGuards).
 */
import { recordStep, type MigrationState } from "../control/migration-state.ts";
import type { ReleaseConfig } from "../release/config.ts";
import { readRelease, setV1Retired } from "../release/store.ts";
import { type ForceOptions, enforce, readState } from "./orchestrator.ts";
import { type LifecycleContext, controlLocation, emit } from "./phase.ts";
import { UnretireWithoutReasonError, unretireGuards } from "./phases/remove.ts";

export interface UnretireOutcome {
  state: MigrationState;
  release: ReleaseConfig;
  forced: string[];
}

/**
 * `ferry unretire`: the way back after remove. Guarded (unretireGuards), recorded in the
 * history with actor and reason, then v1 un-retired in the release configuration (audit
 * entry "restore-v1"). The migration is active again at 100% v2: `ferry move --to v1` flips
 * traffic back, `ferry rollback` is possible again, and a later remove starts afresh (new
 * backup, new cleanup run); the undone removal is kept under `unretired`.
 */
export async function unretireV1(ctx: LifecycleContext, force: ForceOptions & { reason?: string }): Promise<UnretireOutcome> {
  const reason = force.reason?.trim();
  if (!reason) throw new UnretireWithoutReasonError();
  const state = await readState(ctx);
  const location = controlLocation(ctx);
  const forced = enforce(ctx, "unretire", await unretireGuards(ctx, state, await readRelease(location)), force);
  const at = () => new Date(ctx.guards.now());
  // The state first: interrupted before the release, unretire runs again (v1 is still retired).
  const recorded = await recordStep(
    controlLocation(ctx),
    { step: "unretire", actor: ctx.actor, reason, ...(forced.length ? { forced } : {}) },
    (base, when) => ({
      status: "active",
      removal: undefined,
      unretired: { at: when, actor: ctx.actor, reason, ...(forced.length ? { forced } : {}), ...(base.removal ? { previousRemoval: base.removal } : {}) },
    }),
    at,
  );
  emit(ctx, "unretire", "start", { reason, ...(forced.length ? { forced } : {}) });
  const { after } = await setV1Retired(location, false, ctx.actor, reason, at);
  emit(ctx, "unretire", "complete");
  return { state: recorded, release: after, forced };
}
