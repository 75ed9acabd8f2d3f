/**
 * The application, simulated: a background writer that keeps changing workflows while a
 * migration runs (adds and removes contexts, inserts new workflows, deletes some), at a
 * steady rate. The demo runs it for the whole walk, so every step is shown against live
 * writes, which is the point of an online migration.
 */
import { DeleteCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { WorkflowContext } from "../model/workflow.ts";
import { type Random, seededRandom } from "@ferry/core";
import { generateWorkflows } from "./generator.ts";

export interface LiveWriterOptions {
  doc: DynamoDBDocumentClient;
  tableName: string;
  /** The workflows it may change (keys and contexts only). */
  workflows: { PK: string; SK: string; contexts: WorkflowContext[] }[];
  /** Context ids it may add, per tenant. */
  contextIds: (tenant: string) => string[];
  writesPerSecond: number;
  seed: number;
}

export interface LiveWriterStats {
  updates: number;
  inserts: number;
  deletes: number;
  errors: number;
}

export const DEFAULT_LIVE_WRITES_PER_SECOND = 20;

export function startLiveWriter(options: LiveWriterOptions) {
  const random: Random = seededRandom(options.seed);
  const live = options.workflows.map((w) => ({ PK: w.PK, SK: w.SK, contexts: [...w.contexts] }));
  const stats: LiveWriterStats = { updates: 0, inserts: 0, deletes: 0, errors: 0 };
  const fresh = generateWorkflows({ tenants: 1, workflows: 1_000_000, contexts: 1, pool: 10, tasks: 1, itemKb: 1, seed: options.seed + 7 });
  let stopped = false;

  async function writeOnce() {
    const index = Math.floor(random() * live.length);
    const pick = live[index];
    if (!pick) return;
    const roll = random();
    if (roll < 0.1) {
      const next = fresh.next().value;
      if (!next) return;
      const pool = options.contextIds(pick.PK);
      const contexts = [{ id: pool[Math.floor(random() * pool.length)] ?? "ctx-00001", name: "live" }];
      const item = { ...next, PK: pick.PK, contexts };
      await options.doc.send(new PutCommand({ TableName: options.tableName, Item: item }));
      live.push({ PK: item.PK, SK: item.SK, contexts });
      stats.inserts++;
    } else if (roll < 0.15 && live.length > 10) {
      await options.doc.send(new DeleteCommand({ TableName: options.tableName, Key: { PK: pick.PK, SK: pick.SK } }));
      live.splice(index, 1);
      stats.deletes++;
    } else {
      const pool = options.contextIds(pick.PK);
      const add = pool[Math.floor(random() * pool.length)];
      const contexts =
        random() < 0.5 && pick.contexts.length > 1
          ? pick.contexts.slice(1)
          : [...new Map([...pick.contexts, { id: add ?? "ctx-00001", name: "live" }].map((c) => [c.id, c])).values()];
      // Only if it still exists: an update must not resurrect a deleted workflow as a stub.
      await options.doc.send(
        new UpdateCommand({
          TableName: options.tableName,
          Key: { PK: pick.PK, SK: pick.SK },
          UpdateExpression: "SET contexts = :c",
          ConditionExpression: "attribute_exists(PK)",
          ExpressionAttributeValues: { ":c": contexts },
        }),
      );
      pick.contexts = contexts;
      stats.updates++;
    }
  }

  const run = (async () => {
    const interval = 1_000 / options.writesPerSecond;
    let next = Date.now();
    while (!stopped) {
      try {
        await writeOnce();
      } catch {
        stats.errors++;
      }
      next += interval;
      const wait = next - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      else next = Date.now();
    }
  })();

  return {
    stats: () => ({ ...stats }),
    async stop(): Promise<LiveWriterStats> {
      stopped = true;
      await run;
      return { ...stats };
    },
  };
}
