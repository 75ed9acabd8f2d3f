/**
 * Deterministic generator of the seed-000 workflows table. The same options and seed give
 * the same items; contexts are dealt from a per-tenant pool so that each context is shared
 * by an exact, chosen number of workflows.
 */
import { itemSize, type Random, permutation, pick, randomHex, randomInt, seededRandom } from "@ferry/core";
import type { WorkflowItem, WorkflowTask } from "../model/workflow.ts";
import { workflowSk } from "../model/workflow.ts";

export interface SeedOptions {
  /** Number of tenants (partitions). */
  tenants: number;
  /** Workflows per tenant. */
  workflows: number;
  /** Contexts per workflow. */
  contexts: number;
  /** Size of each tenant's context pool; a context is shared by workflows*contexts/pool workflows. */
  pool: number;
  /** Embedded tasks per workflow. */
  tasks: number;
  /** Target item size in KB (1 to 350); padding goes into task notes, as in seed 000's growth. */
  itemKb: number;
  /** PRNG seed. */
  seed: number;
  /** Index of the first tenant (to add tenants of another size beside existing ones). */
  firstTenant?: number;
}

export const DEFAULT_SEED_OPTIONS: SeedOptions = {
  tenants: 3,
  workflows: 1_000,
  contexts: 2,
  pool: 100,
  tasks: 5,
  itemKb: 2,
  seed: 42,
};

export const MIN_ITEM_KB = 1;
export const MAX_ITEM_KB = 350;

const NAMES = ["Wallbox", "Solar", "Heat pump", "Onboarding", "Contract", "Meter change", "Invoice", "Support"];
const TASK_NAMES = ["Buy", "Validate", "Ship", "Install", "Inspect", "Approve", "Bill", "Close"];
const STATUSES = ["TO_DO", "IN_PROGRESS", "COMPLETED"] as const;
const EPOCH = Date.UTC(2023, 7, 1);

export function tenantId(index: number): string {
  return `tenant-${String(index + 1).padStart(4, "0")}`;
}

export function contextId(index: number): string {
  return `ctx-${String(index + 1).padStart(5, "0")}`;
}

/** Checks option ranges; returns the list of problems (empty when valid). */
export function validateSeedOptions(o: SeedOptions): string[] {
  const problems: string[] = [];
  const int = (name: Exclude<keyof SeedOptions, "firstTenant">, min: number, max = Number.MAX_SAFE_INTEGER) => {
    const v = o[name];
    if (!Number.isInteger(v) || v < min || v > max) problems.push(`${name} must be an integer between ${min} and ${max} (got ${v})`);
  };
  int("tenants", 1, 10_000);
  int("workflows", 0);
  int("contexts", 0, 100);
  int("pool", 1);
  int("tasks", 0, 1_000);
  int("seed", 0);
  if (o.firstTenant !== undefined && (!Number.isInteger(o.firstTenant) || o.firstTenant < 0))
    problems.push(`firstTenant must be a non-negative integer (got ${o.firstTenant})`);
  if (!(o.itemKb >= MIN_ITEM_KB && o.itemKb <= MAX_ITEM_KB)) {
    problems.push(`itemKb must be between ${MIN_ITEM_KB} and ${MAX_ITEM_KB} (got ${o.itemKb})`);
  }
  if (o.contexts > o.pool) problems.push(`contexts (${o.contexts}) cannot exceed pool (${o.pool}): a workflow's contexts are distinct`);
  return problems;
}

function isoAt(random: Random, offsetDays = 0): string {
  return new Date(EPOCH + (offsetDays + random() * 30) * 86_400_000).toISOString();
}

function makeTask(random: Random): WorkflowTask {
  const status = pick(random, STATUSES);
  return {
    id: randomHex(random, 12),
    name: pick(random, TASK_NAMES),
    status,
    started_at: isoAt(random),
    ...(status === "COMPLETED" ? { completed_at: isoAt(random, 30) } : {}),
    assignees: Array.from({ length: randomInt(random, 3) }, () => String(100 + randomInt(random, 900))),
    dueDate: isoAt(random, 40),
  };
}

/** Grows the item to `targetBytes` by padding task notes (or the description when there are no tasks). */
function pad(item: WorkflowItem, targetBytes: number, random: Random): WorkflowItem {
  const missing = targetBytes - itemSize(item);
  if (missing <= 0) return item;
  const filler = (n: number) => {
    let s = "";
    while (s.length < n) s += randomHex(random, 16);
    return s.slice(0, n);
  };
  if (item.tasks.length === 0) {
    const overhead = "description".length;
    return { ...item, description: filler(Math.max(0, missing - overhead)) };
  }
  // Each task's notes cost name (5) + map-entry byte (1) + the value.
  const per = Math.floor(missing / item.tasks.length);
  const tasks = item.tasks.map((t, i) => {
    const share = i === 0 ? missing - per * (item.tasks.length - 1) : per;
    return { ...t, notes: filler(Math.max(0, share - 6)) };
  });
  return { ...item, tasks };
}

/** Yields every workflow item, tenant by tenant, without holding them in memory. */
export function* generateWorkflows(options: Partial<SeedOptions> = {}): Generator<WorkflowItem> {
  const o = { ...DEFAULT_SEED_OPTIONS, ...options };
  for (let t = o.firstTenant ?? 0; t < (o.firstTenant ?? 0) + o.tenants; t++) {
    const random = seededRandom(o.seed * 1_000_003 + t);
    const tenant = tenantId(t);
    // Deal contexts round-robin over a shuffled pool: exact sharing, distinct per workflow.
    const order = permutation(random, o.pool);
    for (let w = 0; w < o.workflows; w++) {
      const contexts = Array.from({ length: o.contexts }, (_, j) => {
        const id = contextId(order[(w * o.contexts + j) % o.pool] as number);
        return { id, name: `Context ${id}` };
      });
      const status = pick(random, STATUSES);
      const base: WorkflowItem = {
        PK: tenant,
        SK: workflowSk(`${randomHex(random, 8)}${String(w).padStart(6, "0")}`),
        name: pick(random, NAMES),
        status,
        started_at: isoAt(random),
        ...(status === "COMPLETED" ? { completed_at: isoAt(random, 30) } : {}),
        assignees: Array.from({ length: 1 + randomInt(random, 3) }, () => String(100 + randomInt(random, 900))),
        contexts,
        tasks: Array.from({ length: o.tasks }, () => makeTask(random)),
      };
      yield pad(base, Math.round(o.itemKb * 1024), random);
    }
  }
}
