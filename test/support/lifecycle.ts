// Lifecycle test helpers: a seeded plain table with a migration recorded as added (the add
// step itself needs a stream and is tested on one), a simulated dual-write heartbeat, a
// clock the guards read, and key-sorted table snapshots to compare before/after.
import { batchPutAll, loadMigration, type Migration } from "@ferry/core";
import { generateWorkflows } from "@ferry/example-workflows";
import { ensureControlTable } from "@ferry/core/control/control-table";
import { lifecycleContext } from "@ferry/core/lifecycle/lifecycle";
import type { LifecycleContext } from "@ferry/core/lifecycle/phase";
import { recordStep } from "@ferry/core/control/migration-state";
import { emptyCounters, writeHeartbeat } from "@ferry/core/dualwrite/heartbeat";
import type { StepEvent } from "@ferry/core/lifecycle/events";
import { freshPlainTable, scanAll, testClients } from "./dynamo.ts";

export const clients = testClients();

/** A settable clock, starting now. */
export function clock(start = Date.now()) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms), set: (ms: number) => (t = ms) };
}

export interface Seeded {
  table: string;
  controlTable: string;
  ctx: (migration: Migration, extra?: Partial<Parameters<typeof lifecycleContext>[0]>) => LifecycleContext;
  events: StepEvent[];
  time: ReturnType<typeof clock>;
}

/** A plain table with `workflows` workflows (2 tenants, 3 tasks each) and its control table. */
export async function seededTable(workflows = 60, prefix = "lc"): Promise<Seeded> {
  const table = await freshPlainTable(clients, prefix);
  const controlTable = `${table}.ferry`;
  await ensureControlTable(clients.raw, controlTable);
  await batchPutAll(clients.doc, table, [...generateWorkflows({ tenants: 2, workflows: workflows / 2, contexts: 2, pool: 20, tasks: 3, itemKb: 1 })]);
  const events: StepEvent[] = [];
  const time = clock();
  return {
    table,
    controlTable,
    events,
    time,
    ctx: (migration, extra = {}) =>
      lifecycleContext({
        clients,
        tableName: table,
        controlTable,
        migration,
        actor: "ana",
        guards: { now: time.now },
        listeners: [(e) => events.push(e)],
        ...extra,
      }),
  };
}

/** Records the add step as `ferry add` does (without a stream: the state record only). */
export async function markAdded(ctx: LifecycleContext): Promise<void> {
  await recordStep(
    { doc: ctx.clients.doc, controlTable: ctx.controlTable, migrationId: ctx.migration.id },
    { step: "add", actor: ctx.actor },
    () => ({}),
    () => new Date(ctx.guards.now()),
  );
}

/** A dual-write heartbeat written at `at` (ms). */
export async function beat(ctx: LifecycleContext, at: number): Promise<void> {
  await writeHeartbeat(ctx.clients.doc, ctx.controlTable, ctx.migration.id, "dual-write", {
    newestCreatedAt: at,
    appliedAt: at,
    sequenceNumber: "1",
    counters: emptyCounters(),
    lastBatch: emptyCounters(),
  });
}

/** Every item, sorted by key, for exact before/after comparisons. */
export async function snapshot(table: string): Promise<Record<string, unknown>[]> {
  const items = await scanAll(clients, table);
  return items.sort((a, b) => (`${a.PK}\u0000${a.SK}` < `${b.PK}\u0000${b.SK}` ? -1 : 1));
}

export const m1 = await loadMigration("0001");
export const m2 = await loadMigration("0002");

/** Items whose owner stamp names `migrationId`. */
export const derivedOf = (items: Record<string, unknown>[], migrationId: string) =>
  items.filter((i) => (i.ferry as { migration?: string } | undefined)?.migration === migrationId);
