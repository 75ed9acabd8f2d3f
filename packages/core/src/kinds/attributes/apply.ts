/**
 * The attributes kind's dual-write windows: plans of distinct source items go out together
 * (each is one conditional UpdateItem on its own item, so their order cannot matter); a later
 * change of an item already in the window replaces the earlier one's plan (merge), because the
 * earlier update is conditional on fields the later change replaced and could only have been
 * superseded. A write that fails its condition met a later change whose own stream record
 * follows: it is counted as superseded, not a failure.
 */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { type KeySchema, keyId } from "../../dynamo/key-schema.ts";
import type { BatchWriteStats } from "../../dynamo/batch-write.ts";
import type { ApplyOptions, WindowResult } from "../../dualwrite/applier.ts";
import type { Migration } from "../../definition/define-migration.ts";
import type { ApplyPlan, KindWindow } from "../kind.ts";
import { updateOwned } from "./update.ts";

/** Collects plans of distinct source items. */
export class AttributesWindow<T> implements KindWindow<T> {
  readonly entries: { plan: ApplyPlan; tag: T; merged: number }[] = [];
  private readonly at = new Map<string, number>();

  constructor(private readonly keys?: KeySchema) {}

  fits(plan: ApplyPlan): boolean {
    return !this.at.has(this.id(plan));
  }

  add(plan: ApplyPlan, tag: T): void {
    this.at.set(this.id(plan), this.entries.length);
    this.entries.push({ plan, tag, merged: 0 });
  }

  /** Replaces the plan of the same item by the later one (the later image is the one a write can still match). */
  merge(plan: ApplyPlan): boolean {
    const index = this.at.get(this.id(plan));
    const entry = index === undefined ? undefined : this.entries[index];
    if (!entry) return false;
    entry.plan = plan;
    entry.merged++;
    return true;
  }

  get coalesced(): boolean {
    return this.entries.some((e) => e.merged > 0);
  }

  get size(): number {
    return this.entries.length;
  }

  private id(plan: ApplyPlan): string {
    if (!this.keys) throw new Error("AttributesWindow used before the table's key schema was known");
    return keyId(this.keys, plan.key);
  }
}

/**
 * Writes one window's updates, up to `options.concurrency` in flight. On an error (not a
 * failed condition) it launches nothing more, lets the calls in flight finish, and names the
 * earliest plan with a failed write; every plan before it is written or superseded.
 */
export async function applyAttributesWindow(
  doc: DynamoDBDocumentClient,
  tableName: string,
  migration: Migration,
  plans: readonly ApplyPlan[],
  options: ApplyOptions,
  stats?: BatchWriteStats,
): Promise<WindowResult> {
  let failure: WindowResult["failure"];
  const outcomes: ("written" | "superseded" | undefined)[] = [];
  const inFlight = new Set<Promise<void>>();
  const counted = { calls: 0, consumedWriteUnits: 0 };
  for (const [index, plan] of plans.entries()) {
    if (failure) break;
    const update = plan.attributes;
    if (!update) throw new Error("an attributes window holds a plan without its attributes (kinds/attributes/plan.ts makes them)");
    const call = updateOwned(doc, tableName, migration, update.image, update.set, { stats: counted })
      .then((outcome) => {
        outcomes[index] = outcome;
      })
      .catch((error: unknown) => {
        if (!failure || index < failure.index) failure = { index, error };
      })
      .finally(() => inFlight.delete(call));
    inFlight.add(call);
    while (inFlight.size >= Math.max(1, options.concurrency)) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  const done = failure ? outcomes.slice(0, failure.index) : outcomes;
  if (stats) {
    stats.calls += counted.calls;
    stats.written += done.filter((o) => o === "written").length;
    stats.consumedWriteUnits += counted.consumedWriteUnits;
  }
  return {
    written: done.filter((o) => o === "written").length,
    deleted: 0,
    keptDeletes: [],
    superseded: done.filter((o) => o === "superseded").length,
    ...(failure ? { failure } : {}),
  };
}
