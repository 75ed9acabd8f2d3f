/**
 * The demo's world: the seed-000 table on the embedded engine (one large tenant with
 * thousands of ~10 KB workflows, a few small ones, each context shared by ~20 workflows),
 * seeded without a stream (DynamoDB Local slows down with every stream record it keeps), then
 * the stream turned on, as a team does before `ferry add`.
 */
import { type DynamoClients, batchPutAll, ensureTable } from "@ferry/core";
import type { WorkflowContext } from "../model/workflow.ts";
import { type SeedOptions, contextId, generateWorkflows, tenantId } from "../seed/generator.ts";
import { WORKFLOWS_TABLE } from "../table.ts";

/** Sizes of the demo, all flags of `ferry demo`. */
export interface DemoSizes {
  /** Workflows of the large tenant (the one seed 000's API was slow for). */
  largeWorkflows: number;
  /** Small tenants beside it, and their workflows each. */
  smallTenants: number;
  smallWorkflows: number;
  itemKb: number;
  /** Workflows sharing each context (seed 000: ~20). */
  sharing: number;
  seed: number;
}

export const DEFAULT_DEMO_SIZES: DemoSizes = { largeWorkflows: 5_000, smallTenants: 3, smallWorkflows: 300, itemKb: 10, sharing: 20, seed: 42 };

export const CONTEXTS_PER_WORKFLOW = 2;

export interface DemoData {
  largeTenant: string;
  tenants: string[];
  /** Keys and contexts of every workflow (what the live writer changes). */
  workflows: { PK: string; SK: string; contexts: WorkflowContext[] }[];
  /** Context ids of each tenant's pool. */
  contextIds: (tenant: string) => string[];
  items: number;
  seedMs: number;
}

function seedOptions(sizes: DemoSizes): Partial<SeedOptions>[] {
  const pool = (workflows: number) => Math.max(CONTEXTS_PER_WORKFLOW, Math.round((workflows * CONTEXTS_PER_WORKFLOW) / sizes.sharing));
  const common = { contexts: CONTEXTS_PER_WORKFLOW, tasks: 8, itemKb: sizes.itemKb, seed: sizes.seed };
  return [
    { ...common, tenants: 1, workflows: sizes.largeWorkflows, pool: pool(sizes.largeWorkflows), firstTenant: 0 },
    ...(sizes.smallTenants > 0
      ? [{ ...common, tenants: sizes.smallTenants, workflows: sizes.smallWorkflows, pool: pool(sizes.smallWorkflows), firstTenant: 1 }]
      : []),
  ];
}

/** Creates the table without a stream and seeds it; returns what the walk needs to know. */
export async function seedDemoTable(
  clients: DynamoClients,
  tableName: string,
  sizes: DemoSizes,
  onProgress: (done: number, total: number) => void,
): Promise<DemoData> {
  const started = Date.now();
  await ensureTable(clients.raw, WORKFLOWS_TABLE, tableName, { stream: false });

  const total = sizes.largeWorkflows + sizes.smallTenants * sizes.smallWorkflows;
  let done = 0;
  const workflows: DemoData["workflows"] = [];
  const pools = new Map<string, number>();
  for (const options of seedOptions(sizes)) {
    const items = generateWorkflows(options);
    const keep = function* () {
      for (const item of items) {
        workflows.push({ PK: item.PK, SK: item.SK, contexts: item.contexts });
        yield item;
      }
    };
    await batchPutAll(clients.doc, tableName, keep(), {
      concurrency: 4,
      onProgress: (n) => {
        done += n;
        onProgress(done, total);
      },
    });
    for (let t = options.firstTenant ?? 0; t < (options.firstTenant ?? 0) + (options.tenants ?? 1); t++) pools.set(tenantId(t), options.pool ?? 1);
  }
  return {
    largeTenant: tenantId(0),
    tenants: [...pools.keys()],
    workflows,
    contextIds: (tenant) => Array.from({ length: pools.get(tenant) ?? 1 }, (_, i) => contextId(i)),
    items: total,
    seedMs: Date.now() - started,
  };
}
