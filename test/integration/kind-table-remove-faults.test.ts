// The `table` kind's remove with cleanup.deleteSourceItems, and its convert + dual-write under
// faults DynamoDB Local never produces. Remove: every migrated source item is backed up and
// deleted while the real dual-write keeps running, and application writes race the deletes
// (an update and a whole-item Put between the sweep's mark and its delete): the target keeps
// exactly derive(each item as finally deleted), the backup holds those items, and `restore`
// brings them back whole. Faults: 20% throttling and unprocessed items at the SDK middleware,
// nothing lost.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { loadMigration } from "@ferry/core";
import { startConversion } from "@ferry/core/backfill/control";
import { readBackupFile } from "@ferry/core/cleanup/backup";
import { restoreBackup } from "@ferry/core/cleanup/restore";
import { ensureControlTable } from "@ferry/core/control/control-table";
import { probeDualWrite } from "@ferry/core/dualwrite/liveness";
import { convertStep, lifecycleContext, moveStep, removeStep } from "@ferry/core/lifecycle/lifecycle";
import { verifyMigration } from "@ferry/core/verify/verify-migration";
import { afterEach, describe, expect, it, onTestFinished } from "vitest";
import { converged } from "../support/any-table.ts";
import { ferryBin } from "../support/cli.ts";
import { endpoint, scanAll, testClients } from "../support/dynamo.ts";
import { injectFaults } from "../support/faults.ts";
import { expectedRecords, FOREIGN_ITEM, isSource, kindTableTables, shopWriter, targetInvariant } from "../support/kind-table.ts";
import { beat, clock, markAdded } from "../support/lifecycle.ts";
import { startLiveDualWrite } from "../support/live-dual-write.ts";

const DIR = join(import.meta.dirname, "../fixtures/migrations-kind-table");
const DAY = 86_400_000;
const stamped = (items: Record<string, unknown>[]) => items.filter((i) => "ferry" in i);
const canonical = (items: Record<string, unknown>[]) =>
  items.map((i) => JSON.stringify(i, (_, v) => (v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort()) : v))).sort();

afterEach(() => {
  delete process.env.FERRY_TARGET_TABLE;
});

/** Runs `before(input)` ahead of matching commands on `client` (an application write racing the cleanup). */
function beforeCommand(client: DynamoDBClient, name: string, before: (input: Record<string, unknown>) => Promise<void>) {
  client.middlewareStack.add(
    ((next: (a: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: { input: Record<string, unknown> }) => {
      if (context.commandName === name) await before(args.input);
      return next(args);
    }) as never,
    { step: "initialize", priority: "high", name: `test-before-${name}` },
  );
}

/**
 * 0002 (deleteSourceItems) on `sources` source items beside `foreign` other items: added with the
 * live dual-write running, converted, moved to v2 and 8 days on, so remove may run; `racing`
 * are the lifecycle's clients (a test hooks the application's races into them).
 */
async function movedWithLiveDualWrite(prefix: string, sources: number, foreign: number, segments: number) {
  const clients = testClients();
  const migration = await loadMigration("0002", DIR);
  const { table, controlTable, target, others } = await kindTableTables(clients, prefix, sources, foreign);
  process.env.FERRY_TARGET_TABLE = target;
  await ensureControlTable(clients.raw, controlTable);
  const dualWrite = await startLiveDualWrite(clients, table, controlTable, migration);
  onTestFinished(() => dualWrite.stop());
  const time = clock();
  const racing = testClients();
  const ctx = lifecycleContext({ clients: racing, tableName: table, controlTable, migration, actor: "ana", guards: { now: time.now } });
  await markAdded(ctx);
  await beat(ctx, time.now());
  await convertStep(ctx, { settings: { segments, rate: 100_000 } });
  await moveStep(ctx, { to: "v2", percent: 100, verify: { recheckAfterMs: 0 } });
  time.advance(8 * DAY);
  return { clients, migration, table, controlTable, target, others, racing, ctx };
}

describe("the table kind's remove: deleteSourceItems", () => {
  it("backs up and deletes every migrated source item beside the live dual-write and racing application writes; the target keeps its records; restore brings the items back whole", async () => {
    const { clients, migration, table, controlTable, target, others, racing, ctx } = await movedWithLiveDualWrite("ktrm", 40, 5, 2);

    // The application writes between the sweep's mark and its delete: two updates, one whole-item Put (drops the mark).
    const raced = new Map<string, string>();
    beforeCommand(racing.raw, "DeleteItemCommand", async (input) => {
      const key = unmarshall(input.Key as never) as { pk: string; sk: string };
      if (raced.size >= 3 || raced.has(key.sk)) return;
      const how = raced.size < 2 ? "update" : "put";
      raced.set(key.sk, how);
      if (how === "update") {
        await clients.doc.send(
          new UpdateCommand({
            TableName: table,
            Key: key,
            UpdateExpression: "SET label = :l, score = :s",
            ExpressionAttributeValues: { ":l": "raced", ":s": 42 },
          }),
        );
      } else {
        await clients.doc.send(
          new PutCommand({ TableName: table, Item: { ...key, seq: 900_000, category: "pots", score: 3, label: "replaced", featured: true } }),
        );
      }
    });
    const backupDir = mkdtempSync(join(tmpdir(), "ferry-ktrm-"));
    const removed = await removeStep(ctx, { backupDir, cleanup: { segments: 2, rate: 100_000 } });
    expect(removed).toMatchObject({ completed: true, state: { status: "removed" } });
    expect([...raced.values()].sort()).toEqual(["put", "update", "update"]);

    // The source keeps only what is not a source item; the stream drained (a ping after the deletes came back).
    const source = await scanAll(clients, table);
    expect(source.filter(isSource)).toEqual([]);
    expect(source.length).toBe(others.length);
    expect((await probeDualWrite({ clients, tableName: table, controlTable, migration }, { timeoutMs: 30_000 })).live).toBe(true);

    // The backup holds each item as it was deleted (the raced ones as the application left them).
    const file = removed.result.backup?.kind === "file" ? removed.result.backup.path : "";
    const backup = readBackupFile(file);
    expect(backup.header).toMatchObject({ wholeItems: true, migrationId: migration.id });
    const deleted = backup.items.map((i) => unmarshall(i));
    expect(deleted).toHaveLength(40);
    expect(deleted.filter((i) => i.label === "raced")).toHaveLength(2);
    expect(deleted.filter((i) => i.label === "replaced")).toHaveLength(1);
    expect(deleted.some((i) => "ferryCleanup" in i)).toBe(false);

    // The dual-write deleted nothing on the cleanup's deletes: the target is derive(each deleted item), and the foreign item.
    const owners = (records: Record<string, unknown>[], item: Record<string, unknown>) =>
      records.map((r) => ({ ...r, ferry: { migration: migration.id, owner: { pk: item.pk, sk: item.sk } } }));
    const expected = deleted.flatMap((item) => owners(expectedRecords(item), item));
    const targetItems = await scanAll(clients, target);
    expect(canonical(stamped(targetItems))).toEqual(canonical(expected));
    expect(targetItems.filter((i) => !("ferry" in i))).toEqual([FOREIGN_ITEM]);

    // restore puts the whole items back; the dual-write re-derives the same records; verify is clean both ways.
    const restored = await restoreBackup(clients, file);
    expect(restored).toMatchObject({ items: 40, recreated: 40, present: 0 });
    expect(canonical((await scanAll(clients, table)).filter(isSource))).toEqual(canonical(deleted));
    expect(await converged(() => targetInvariant(clients, table, target, migration.id), 30_000)).toMatchObject({ missing: [], orphans: [], stale: [] });
    expect(await verifyMigration(clients, table, migration, { segments: 2 })).toMatchObject({ clean: true, missing: 0, orphans: 0, different: 0 });
  });

  it("keeps an attribute added between the mark and the delete when the sweep dies right after the delete: the dual-write kept the deleted image, restore puts it back", async () => {
    const { clients, migration, table, controlTable, racing, ctx } = await movedWithLiveDualWrite("ktrc", 12, 2, 1);

    // The application adds an attribute after the mark (every backed-up value unchanged, so the delete
    // goes through); the sweep dies as the delete returns, before it could append the deleted item.
    let victim: { pk: string; sk: string } | undefined;
    beforeCommand(racing.raw, "DeleteItemCommand", async (input) => {
      if (victim) return;
      victim = unmarshall(input.Key as never) as { pk: string; sk: string };
      await clients.doc.send(
        new UpdateCommand({ TableName: table, Key: victim, UpdateExpression: "SET addedLater = :a", ExpressionAttributeValues: { ":a": "late" } }),
      );
    });
    let died = false;
    racing.raw.middlewareStack.add(
      ((next: (a: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: { input: Record<string, unknown> }) => {
        const out = await next(args);
        const key = context.commandName === "DeleteItemCommand" ? (unmarshall(args.input.Key as never) as { sk: string }) : undefined;
        if (key && key.sk === victim?.sk && !died) {
          died = true;
          throw new Error("killed right after the delete");
        }
        return out;
      }) as never,
      { step: "initialize", priority: "low", name: "test-die-after-delete" },
    );
    const backupDir = mkdtempSync(join(tmpdir(), "ferry-ktrc-"));
    await expect(removeStep(ctx, { backupDir, cleanup: { segments: 1, rate: 100_000 } })).rejects.toThrow("killed right after the delete");
    const again = await removeStep(ctx, { backupDir, cleanup: { segments: 1, rate: 100_000 } });
    expect(again).toMatchObject({ completed: true, state: { status: "removed" } });
    const file = again.result.backup?.kind === "file" ? again.result.backup.path : "";
    const line = readBackupFile(file)
      .items.map((i) => unmarshall(i))
      .find((i) => i.sk === victim?.sk);
    // The backup line is the item as marked: without the attribute added after it.
    expect(line).toBeDefined();
    expect(line).not.toHaveProperty("addedLater");
    expect((await probeDualWrite({ clients, tableName: table, controlTable, migration }, { timeoutMs: 30_000 })).live).toBe(true);

    // The real CLI, as a release manager runs it: it reads the deleted images from the control table.
    const cli = await ferryBin(["restore", file, "--endpoint", endpoint(), "--control-table", controlTable, "--json"]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout)).toMatchObject({ items: 12, recreated: 12, completedFromStream: 1 });
    const back = (await scanAll(clients, table)).find((i) => i.pk === victim?.pk && i.sk === victim?.sk);
    expect(back).toEqual({ ...line, addedLater: "late" });
    // Without the control table (another machine's copy of the file), the line is all there is.
    const lineOnly = await restoreBackup(clients, file);
    expect(lineOnly).toMatchObject({ completedFromStream: 0, present: 12 });
  });
});

describe("the table kind under faults", () => {
  it("converts exactly beside the live dual-write and random writes under 20% throttling and unprocessed items/keys", async () => {
    const clients = testClients();
    const migration = await loadMigration("0001", DIR);
    const { table, controlTable, target, sources } = await kindTableTables(clients, "ktf", 200, 9);
    process.env.FERRY_TARGET_TABLE = target;
    await ensureControlTable(clients.raw, controlTable);
    const faulty = testClients({ maxAttempts: 10 });
    const faults = injectFaults(faulty.raw, {
      throttleRate: 0.2,
      // The backfill's calls (the SDK's own retries do not see faults injected at this step; ferry's do).
      throttleOperations: ["Scan", "BatchExecuteStatement", "BatchGetItem", "TransactWriteItems"],
      unprocessedKeysRate: 0.2,
      unprocessedRate: 0.2,
      seed: 17,
    });
    const dualWrite = await startLiveDualWrite(clients, table, controlTable, migration);
    onTestFinished(() => dualWrite.stop());
    const writer = shopWriter(testClients(), table, 9, sources, 600, 2);
    const result = await startConversion(
      { clients: faulty, tableName: table, controlTable, migration },
      { segments: 2, pageSize: 25, rate: 100_000 },
      { retryIntervalMs: 5 },
    );
    expect(result.run.status, JSON.stringify(result).slice(0, 2000)).toBe("completed");
    await writer.done;
    const report = await converged(() => targetInvariant(clients, table, target, migration.id), 60_000);
    expect(report).toMatchObject({ missing: [], orphans: [], stale: [] });
    expect(faults.throttled).toBeGreaterThan(10);
    expect(faults.unprocessedKeys).toBeGreaterThan(0);
    expect(await verifyMigration(clients, table, migration, { segments: 2 })).toMatchObject({ clean: true });
  });
});
