/**
 * What each kind of backfill call costs the engine: on one fresh DynamoDB Local, the same
 * derived records written as BatchWriteItem batches (the unconditional script's call) and as
 * batches of PartiQL INSERTs (ferry's), then the validation read (consistent BatchGetItem of
 * 100 source keys with the schema's projection), each timed and charged the JVM's CPU
 * (/proc/<pid>/stat) per 1,000 source items. Sequential calls: a cost per call, not a
 * throughput. Not part of `npm run bench`; the README quotes it.
 *   npx tsx bench/profile-engine-calls.ts [items=4000] [itemKb=2] [tenants=100]
 */
import { readFileSync } from "node:fs";
import { BatchExecuteStatementCommand, BatchGetCommand, BatchWriteCommand, DeleteCommand } from "@aws-sdk/lib-dynamodb";
import { createDynamoClients, deriveRecords, loadMigration, startDynamoDBLocal } from "@ferry/core";
import { insertStatement } from "@ferry/core/backfill/writes";
import { generateWorkflows } from "@ferry/example-workflows";
import { ENGINE_HEAP, ENGINE_START_TIMEOUT_MS, log, plainTable, round, seedShape, seedWorkflows } from "./common.ts";

const [items = 4_000, itemKb = 2, tenants = 100] = process.argv.slice(2).map(Number);
const migration = await loadMigration("0001");
const cpuMs = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return ((Number(fields[11]) + Number(fields[12])) / 100) * 1000;
};

const engine = await startDynamoDBLocal({ heap: ENGINE_HEAP, startTimeoutMs: ENGINE_START_TIMEOUT_MS });
const { doc, raw } = createDynamoClients({ endpoint: engine.endpoint });
try {
  const table = await plainTable({ doc, raw } as never, "calls");
  const shape = seedShape(items, itemKb, 11, tenants);
  await seedWorkflows({ doc, raw } as never, table, shape);
  const sources = [...generateWorkflows(shape)] as Record<string, unknown>[];
  const records = sources.flatMap((s) => deriveRecords(migration, s as never));
  const pid = engine.javaPid as number;
  const rows: Record<string, unknown>[] = [];
  async function charge(what: string, calls: number, run: () => Promise<void>) {
    const c0 = cpuMs(pid);
    const t0 = performance.now();
    await run();
    const ms = performance.now() - t0;
    const engineMs = cpuMs(pid) - c0;
    rows.push({ what, calls, meanMs: round(ms / calls, 2), engineCpuMsPer1000Items: round((engineMs / items) * 1000) });
    log(`${what}: ${calls} calls, ${round(ms / calls, 2)} ms each`);
  }
  const batches = Array.from({ length: Math.ceil(records.length / 25) }, (_, i) => records.slice(i * 25, i * 25 + 25));
  const clear = async () => {
    for (const r of records) await doc.send(new DeleteCommand({ TableName: table, Key: { PK: r.PK, SK: r.SK } }));
  };
  await charge("BatchWriteItem x25 (the unconditional script)", batches.length, async () => {
    for (const b of batches) await doc.send(new BatchWriteCommand({ RequestItems: { [table]: b.map((Item) => ({ PutRequest: { Item } })) } }));
  });
  await clear();
  await charge("BatchExecuteStatement x25 INSERT (ferry)", batches.length, async () => {
    for (const b of batches) await doc.send(new BatchExecuteStatementCommand({ Statements: b.map((r) => insertStatement(table, r)) as never }));
  });
  const keys = sources.map((s) => ({ PK: s.PK, SK: s.SK }));
  const fields = migration.readFields;
  const gets = Array.from({ length: Math.ceil(keys.length / 100) }, (_, i) => keys.slice(i * 100, i * 100 + 100));
  await charge("BatchGetItem x100, consistent, projected (ferry's validation)", gets.length, async () => {
    for (const k of gets) {
      await doc.send(
        new BatchGetCommand({
          RequestItems: {
            [table]: {
              Keys: k,
              ConsistentRead: true,
              ProjectionExpression: [...fields, "PK", "SK"].map((_, i) => `#f${i}`).join(", "),
              ExpressionAttributeNames: Object.fromEntries([...fields, "PK", "SK"].map((f, i) => [`#f${i}`, f])),
            },
          },
        }),
      );
    }
  });
  process.stdout.write(`${JSON.stringify({ items, itemKb, records: records.length, rows }, null, 2)}\n`);
} finally {
  raw.destroy();
  await engine.stop();
}
