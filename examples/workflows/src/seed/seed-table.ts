/** Creates the example table (and, for the default table, migration 0004's copy target) if needed and fills it with generated workflows. */
import { type DynamoClients, type BatchWriteStats, batchPutAll, UsageError, ensureTable } from "@ferry/core";
import { DEFAULT_BY_CONTEXT_TABLE_NAME, DEFAULT_TABLE_NAME, WORKFLOWS_BY_CONTEXT_TABLE, WORKFLOWS_TABLE } from "../table.ts";
import { DEFAULT_SEED_OPTIONS, type SeedOptions, generateWorkflows, validateSeedOptions } from "./generator.ts";

export interface SeedResult extends BatchWriteStats {
  tableName: string;
  tableCreated: boolean;
  options: SeedOptions;
  elapsedMs: number;
}

export class InvalidSeedOptionsError extends UsageError {
  constructor(readonly problems: string[]) {
    super(`Invalid seed options:\n  - ${problems.join("\n  - ")}`);
  }
}

/** Ensures `tableName` exists (from the shared definition) and writes the generated items. */
export async function seedTable(
  clients: DynamoClients,
  tableName: string,
  options: Partial<SeedOptions> = {},
  onProgress?: (written: number, total: number) => void,
): Promise<SeedResult> {
  const opts = { ...DEFAULT_SEED_OPTIONS, ...options };
  const problems = validateSeedOptions(opts);
  if (problems.length > 0) throw new InvalidSeedOptionsError(problems);
  const started = Date.now();
  const { created } = await ensureTable(clients.raw, WORKFLOWS_TABLE, tableName);
  // The default table's copy target, so 0004 can be added locally as the stage would (another
  // table names its own target with FERRY_TARGET_TABLE, created by hand: the engine creates no table).
  if (tableName === DEFAULT_TABLE_NAME) await ensureTable(clients.raw, WORKFLOWS_BY_CONTEXT_TABLE, DEFAULT_BY_CONTEXT_TABLE_NAME, { stream: false });
  const total = opts.tenants * opts.workflows;
  let done = 0;
  // Large items: fewer calls in flight, so a 25 x 350 KB batch never piles up in memory.
  const concurrency = opts.itemKb > 64 ? 2 : 4;
  const stats = await batchPutAll(clients.doc, tableName, generateWorkflows(opts), {
    concurrency,
    onProgress: (n) => {
      done += n;
      onProgress?.(done, total);
    },
  });
  return { ...stats, tableName, tableCreated: created, options: opts, elapsedMs: Date.now() - started };
}
