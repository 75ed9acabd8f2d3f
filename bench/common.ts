/**
 * What every benchmark shares: the embedded engine (one DynamoDB Local per measurement, so a
 * measurement never inherits another's tables or stream records), plain tables (no stream:
 * DynamoDB Local slows down every write to a stream table as stream records pile up),
 * seeding in the seed-000 shape, and the statistics (medians, percentiles).
 */
import { DeleteTableCommand } from "@aws-sdk/client-dynamodb";
import {
  type DynamoClients,
  type Migration,
  batchPutAll,
  createDynamoClients,
  deriveRecords,
  ensureTable,
  loadMigration,
  startDynamoDBLocal,
} from "@ferry/core";
import { WORKFLOWS_TABLE, generateWorkflows } from "@ferry/example-workflows";
import { randomUUID } from "node:crypto";

/** JVM heap of the engine: 10,000 x 10 KB plus derived records fit in 1 GB, 100,000 x 10 KB do not. */
export const ENGINE_HEAP = process.env.FERRY_BENCH_HEAP ?? "6g";

export interface Engine {
  clients: DynamoClients;
  endpoint: string;
  stop(): Promise<void>;
}

/** Runs `run` on a fresh engine, stopped after it. */
export async function withEngine<T>(run: (engine: Engine) => Promise<T>): Promise<T> {
  const engine = await startEngine();
  try {
    return await run(engine);
  } finally {
    await engine.stop();
  }
}

/** How long an engine may take to answer: on a machine shared with other jobs a JVM start took over the default minute. */
export const ENGINE_START_TIMEOUT_MS = 300_000;

/** Starts a fresh in-memory DynamoDB Local and clients for it. */
export async function startEngine(): Promise<Engine> {
  const engine = await startDynamoDBLocal({ heap: ENGINE_HEAP, startTimeoutMs: ENGINE_START_TIMEOUT_MS });
  const clients = createDynamoClients({ endpoint: engine.endpoint });
  return {
    clients,
    endpoint: engine.endpoint,
    async stop() {
      clients.raw.destroy();
      await engine.stop();
    },
  };
}

export function tableName(prefix: string): string {
  return `bench-${prefix}-${randomUUID().slice(0, 8)}`;
}

/** The example table without its stream (see the file comment). */
export async function plainTable(clients: DynamoClients, prefix: string): Promise<string> {
  const name = tableName(prefix);
  await ensureTable(clients.raw, WORKFLOWS_TABLE, name, { stream: false });
  return name;
}

export async function dropTable(clients: DynamoClients, name: string): Promise<void> {
  await clients.raw.send(new DeleteTableCommand({ TableName: name })).catch(() => undefined);
}

/**
 * Seed-000 shape: `workflows` items of `itemKb` in all, split evenly over `tenants` partitions,
 * each context shared by ~20 workflows of its tenant.
 */
export function seedShape(workflows: number, itemKb: number, seed = 7, tenants = 1) {
  if (workflows % tenants !== 0) throw new Error(`${workflows} workflows do not split evenly over ${tenants} tenants`);
  const perTenant = workflows / tenants;
  return { tenants, workflows: perTenant, contexts: 2, pool: Math.max(2, Math.round((perTenant * 2) / 20)), tasks: 5, itemKb, seed };
}

/** Writes the workflows (streamed from the generator, never all in memory). */
export async function seedWorkflows(clients: DynamoClients, table: string, shape: ReturnType<typeof seedShape>): Promise<number> {
  const started = performance.now();
  await batchPutAll(clients.doc, table, generateWorkflows(shape), { concurrency: 4 });
  return performance.now() - started;
}

/** Writes the records 0001 (or a variant of it) derives from the same workflows, as a finished convert leaves them. */
export async function writeContextIndex(clients: DynamoClients, table: string, shape: ReturnType<typeof seedShape>, migration?: Migration): Promise<void> {
  const m1 = migration ?? (await loadMigration("0001"));
  function* records() {
    for (const w of generateWorkflows(shape)) yield* deriveRecords(m1, w as never);
  }
  await batchPutAll(clients.doc, table, records() as Iterable<Record<string, unknown>>, { concurrency: 4 });
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

export const median = (values: number[]) => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Progress lines on stderr, so stdout keeps only the table. */
export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

export async function timed<T>(run: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await run();
  return { ms: performance.now() - started, value };
}

export const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** Times every DynamoDB call of `client`, by command name or by `label` (a profile of where the time goes). */
export function profileCalls(
  client: DynamoClients["raw"],
  label: (commandName: string, input: Record<string, unknown>) => string = (commandName) => commandName,
): Map<string, number[]> {
  const calls = new Map<string, number[]>();
  // A later profile of the same client (the rate sweep after the target run) replaces the earlier one.
  client.middlewareStack.remove("benchProfile");
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const started = performance.now();
      try {
        return await next(args);
      } finally {
        const name = label(context.commandName ?? "?", args.input as Record<string, unknown>);
        const times = calls.get(name) ?? [];
        times.push(performance.now() - started);
        calls.set(name, times);
      }
    },
    { step: "initialize", name: "benchProfile" },
  );
  return calls;
}
