// The remove step's cleanup and its backup: race-safe against writes landing between the
// backup read and the REMOVE, resumable, restorable exactly (and without clobbering newer
// writes), and on AWS an on-demand CreateBackup whose ARN is recorded.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { BackupFailedError, readBackupFile } from "@ferry/core/cleanup/backup";
import { restoreBackup } from "@ferry/core/cleanup/restore";
import { convertStep, moveStep, removeStep } from "@ferry/core/lifecycle/lifecycle";
import type { LifecycleContext } from "@ferry/core/lifecycle/phase";
import { Command } from "commander";
import { describe, expect, it, vi } from "vitest";
import { restoreCommand } from "../../packages/cli/src/commands/restore.ts";
import { endpoint, testClients } from "../support/dynamo.ts";
import { beat, clients, m2, markAdded, seededTable, snapshot } from "../support/lifecycle.ts";

const DAY = 86_400_000;
const isWorkflow = (i: Record<string, unknown>) => /^WF#[^#]+$/.test(String(i.SK));

/** A migration at 100% for 8 days on a seeded table, ready for remove. */
async function readyToRemove(workflows: number, prefix: string, extra: Parameters<Awaited<ReturnType<typeof seededTable>>["ctx"]>[1] = {}) {
  const s = await seededTable(workflows, prefix);
  const ctx = s.ctx(m2, extra);
  await markAdded(ctx);
  await beat(ctx, s.time.now());
  await convertStep(ctx, { settings: { segments: 2, rate: 100_000 } });
  await moveStep(ctx, { to: "v2", percent: 100, verify: { recheckAfterMs: 0 } });
  s.time.advance(8 * DAY);
  return { s, ctx, backupDir: mkdtempSync(join(tmpdir(), "ferry-rm-")) };
}

/** Runs `before(input)` ahead of matching commands on `client` (an application write racing the cleanup). */
function beforeCommand(client: DynamoDBClient, name: string, before: (input: Record<string, unknown>) => Promise<void>, tag: string) {
  client.middlewareStack.add(
    ((next: (a: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: { input: Record<string, unknown> }) => {
      if (context.commandName === name) await before(args.input);
      return next(args);
    }) as never,
    { step: "initialize", priority: "high", name: `test-before-${name}-${tag}` },
  );
}

const keyOf = (input: Record<string, unknown>) => {
  const key = input.Key as { PK: { S: string }; SK: { S: string } };
  return { PK: key.PK.S, SK: key.SK.S };
};

describe("ferry remove's cleanup", () => {
  it("never removes a value it has not backed up: writes racing the REMOVE are re-read, backed up and cleaned; restore brings back exactly the latest values", async () => {
    const racing = testClients();
    const { s, backupDir } = await readyToRemove(20, "rmrace");
    const ctx: LifecycleContext = { ...s.ctx(m2), clients: racing };
    const raced = new Map<string, string>();
    beforeCommand(
      racing.raw,
      "UpdateItemCommand",
      async (input) => {
        const key = keyOf(input);
        if (raced.size >= 3 || raced.has(key.SK)) return;
        raced.set(key.SK, key.PK);
        // The application renames the first task between the cleanup's read and its REMOVE.
        await clients.doc.send(
          new UpdateCommand({
            TableName: s.table,
            Key: key,
            UpdateExpression: "SET tasks[0].#n = :n",
            ExpressionAttributeNames: { "#n": "name" },
            ExpressionAttributeValues: { ":n": "renamed meanwhile" },
          }),
        );
      },
      "rename",
    );
    const gone = { deleted: false };
    beforeCommand(
      racing.raw,
      "UpdateItemCommand",
      async (input) => {
        const key = keyOf(input);
        if (gone.deleted || raced.has(key.SK)) return;
        gone.deleted = true;
        await clients.doc.send(new DeleteCommand({ TableName: s.table, Key: key }));
      },
      "delete",
    );

    const removed = await removeStep(ctx, { backupDir, cleanup: { segments: 1, rate: 100_000 } });
    const afterRaces = await snapshot(s.table);

    expect(removed.completed).toBe(true);
    expect(removed.state.removal?.cleanup).toMatchObject({ removed: 19, skipped: 1 });
    expect(afterRaces.filter(isWorkflow).filter((i) => "tasks" in i)).toEqual([]);
    const file = removed.result.backup?.kind === "file" ? removed.result.backup.path : "";
    const backup = readBackupFile(file);
    expect(backup.lines).toBe(20 + 3);
    expect(backup.items).toHaveLength(20);

    const restored = await restoreBackup(clients, file);
    expect(restored).toMatchObject({ restored: 19, missing: 1, present: 0 });
    const back = (await snapshot(s.table)).filter(isWorkflow);
    expect(back).toHaveLength(19);
    for (const [sk, pk] of raced) {
      const item = (await clients.doc.send(new GetCommand({ TableName: s.table, Key: { PK: pk, SK: sk } }))).Item;
      expect(item?.tasks?.[0]?.name).toBe("renamed meanwhile");
    }
  });

  it("stopped midway, continues with the same backup file; restore does not clobber newer writes and --recreate-missing puts deleted items back", async () => {
    const { s, ctx, backupDir } = await readyToRemove(60, "rmstop");
    const original = await snapshot(s.table);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);

    const first = await removeStep(ctx, { backupDir, cleanup: { segments: 2, pageSize: 5, rate: 60 }, signal: controller.signal });
    expect(first.completed).toBe(false);
    expect(first.state.status).toBe("removing");
    const second = await removeStep(ctx, { backupDir, cleanup: { rate: 100_000 } });
    expect(second).toMatchObject({ completed: true, state: { status: "removed" } });
    expect(second.result.backup).toEqual(first.result.backup);
    expect(second.result.cleanup?.resumed).toBe(true);
    const file = second.result.backup?.kind === "file" ? second.result.backup.path : "";
    expect(readBackupFile(file).items).toHaveLength(60);

    // After the cleanup the application writes one workflow's tasks anew and deletes another.
    const [newer, deleted] = original.filter(isWorkflow) as { PK: string; SK: string }[];
    await clients.doc.send(
      new UpdateCommand({
        TableName: s.table,
        Key: { PK: newer?.PK, SK: newer?.SK },
        UpdateExpression: "SET tasks = :t",
        ExpressionAttributeValues: { ":t": [] },
      }),
    );
    await clients.doc.send(new DeleteCommand({ TableName: s.table, Key: { PK: deleted?.PK, SK: deleted?.SK } }));

    const out = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    let printed = "";
    try {
      const program = new Command("ferry").exitOverride().addCommand(restoreCommand().exitOverride());
      await program.parseAsync(["restore", file, "--endpoint", endpoint(), "--recreate-missing", "--json"], { from: "user" });
      printed = out.mock.calls.map((c) => String(c[0])).join("");
    } finally {
      out.mockRestore();
    }
    expect(JSON.parse(printed)).toMatchObject({ items: 60, restored: 58, present: 1, recreated: 1, missing: 0 });
    const now = await snapshot(s.table);
    const expected = original.map((i) => (i.SK === newer?.SK && i.PK === newer?.PK ? { ...i, tasks: [] } : i));
    expect(now).toEqual(expected);
  });

  it("on AWS takes an on-demand CreateBackup and records its ARN before cleaning; a refused backup cleans nothing", async () => {
    const aws = testClients();
    const { s, backupDir } = await readyToRemove(10, "rmaws");
    const ctx: LifecycleContext = { ...s.ctx(m2), clients: aws };
    const calls: Record<string, unknown>[] = [];
    let refuse = true;
    aws.raw.middlewareStack.add(
      ((next: (a: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: { input: Record<string, unknown> }) => {
        if (context.commandName !== "CreateBackupCommand") return next(args);
        calls.push(args.input);
        if (refuse) throw Object.assign(new Error("User is not authorized to perform: dynamodb:CreateBackup"), { name: "AccessDeniedException" });
        return {
          output: { $metadata: {}, BackupDetails: { BackupArn: `arn:aws:dynamodb:us-east-1:123456789012:table/${s.table}/backup/01700000000000-abcdef12` } },
          response: {},
        };
      }) as never,
      { step: "initialize", priority: "high", name: "test-create-backup" },
    );

    await expect(removeStep(ctx, { backup: "aws", backupDir })).rejects.toBeInstanceOf(BackupFailedError);
    expect((await snapshot(s.table)).filter(isWorkflow).filter((i) => "tasks" in i)).toHaveLength(10);

    refuse = false;
    const removed = await removeStep(ctx, { backup: "aws", backupDir });
    expect(calls.at(-1)).toMatchObject({ TableName: s.table, BackupName: expect.stringMatching(/^ferry-0002_split-workflow-tasks-/) });
    expect(removed.state.removal?.backup).toMatchObject({ kind: "aws", arn: expect.stringContaining("/backup/") });
    expect((await snapshot(s.table)).filter(isWorkflow).filter((i) => "tasks" in i)).toEqual([]);
  });
});
