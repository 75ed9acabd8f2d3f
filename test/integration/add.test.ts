// `ferry add`: refuses tables whose stream cannot feed dual-write, records the step and stream position on a good one.
import { CreateTableCommand, DescribeTableCommand } from "@aws-sdk/client-dynamodb";
import { createTableInput, loadMigration } from "@ferry/core";
import { WORKFLOWS_TABLE } from "@ferry/example-workflows";
import { readMigrationState } from "@ferry/core/control/migration-state";
import { StreamNotEnabledError, WrongStreamViewTypeError, startAdd } from "@ferry/core/lifecycle/phases/add";
import { Command } from "commander";
import { afterAll, describe, expect, it, vi } from "vitest";
import { addCommand } from "../../packages/cli/src/commands/add.ts";
import { dropTable, endpoint, freshExampleTable, testClients, uniqueTableName } from "../support/dynamo.ts";

const clients = testClients();
const tables: string[] = [];
afterAll(async () => {
  for (const name of tables) await dropTable(clients, name);
});

async function tableWithStream(stream: "none" | "KEYS_ONLY"): Promise<string> {
  const name = uniqueTableName("add");
  tables.push(name, `${name}.ferry`);
  const input = createTableInput(WORKFLOWS_TABLE, name, { stream: false });
  await clients.raw.send(
    new CreateTableCommand({ ...input, ...(stream === "KEYS_ONLY" ? { StreamSpecification: { StreamEnabled: true, StreamViewType: "KEYS_ONLY" } } : {}) }),
  );
  return name;
}

describe("ferry add", () => {
  it("refuses a table without a stream and says how to turn one on", async () => {
    const migration = await loadMigration("0001");
    const table = await tableWithStream("none");

    const attempt = startAdd(clients, migration, { tableName: table, actor: "ana" });

    await expect(attempt).rejects.toBeInstanceOf(StreamNotEnabledError);
    await expect(attempt).rejects.toThrow(
      `aws dynamodb update-table --table-name ${table} --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES`,
    );
  });

  it("refuses a KEYS_ONLY stream and explains the view type cannot be changed in place", async () => {
    const migration = await loadMigration("0001");
    const table = await tableWithStream("KEYS_ONLY");

    const attempt = startAdd(clients, migration, { tableName: table, actor: "ana" });

    await expect(attempt).rejects.toBeInstanceOf(WrongStreamViewTypeError);
    await expect(attempt).rejects.toThrow(/streams KEYS_ONLY.*cannot be changed in place: disable the stream/s);
    await expect(attempt).rejects.toThrow(`--table-name ${table} --stream-specification StreamEnabled=false`);
  });

  it("records the add step and where dual-write began, once, however often it runs", async () => {
    const migration = await loadMigration("0001");
    const table = await freshExampleTable(clients, "add");
    tables.push(table, `${table}.ferry`);
    const description = (await clients.raw.send(new DescribeTableCommand({ TableName: table }))).Table;
    const at = new Date("2026-11-23T10:00:00.000Z");

    const first = await startAdd(clients, migration, { tableName: table, actor: "ana", now: () => at });
    const second = await startAdd(clients, migration, { tableName: table, actor: "bo" });

    expect(first.created).toBe(true);
    expect(second).toMatchObject({ created: false, streamChanged: false });
    const state = await readMigrationState({ doc: clients.doc, controlTable: `${table}.ferry`, migrationId: migration.id });
    expect(state).toMatchObject({
      migrationId: migration.id,
      step: "add",
      history: [{ step: "add", at: at.toISOString(), actor: "ana" }],
      dualWrite: { tableName: table, streamArn: description?.LatestStreamArn, streamViewType: "NEW_AND_OLD_IMAGES", at: at.toISOString() },
    });
    expect(state?.dualWrite?.shards).toHaveLength(1);
    expect(state?.dualWrite?.shards[0]?.shardId).toMatch(/^shardId-/);
    expect(state?.dualWrite?.shards[0]?.startingSequenceNumber).toMatch(/^\d+$/);
  });

  it("runs as a command with --actor and --control-table, printing JSON", async () => {
    const table = await freshExampleTable(clients, "add");
    const controlTable = uniqueTableName("ctl");
    tables.push(table, controlTable);
    const out = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    let written = "";
    try {
      const program = new Command("ferry").exitOverride().addCommand(addCommand().exitOverride());
      await program.parseAsync(["add", "0002", "--table", table, "--endpoint", endpoint(), "--control-table", controlTable, "--actor", "carla", "--json"], {
        from: "user",
      });
      written = out.mock.calls.map((c) => String(c[0])).join("");
    } finally {
      out.mockRestore();
    }

    const printed = JSON.parse(written);
    expect(printed).toMatchObject({ created: true, controlTable, state: { migrationId: "0002_split-workflow-tasks", history: [{ actor: "carla" }] } });
    const state = await readMigrationState({ doc: clients.doc, controlTable, migrationId: "0002_split-workflow-tasks" });
    // Through the orchestrator: the add step's entries (taken, then completed), all by the actor given.
    expect(state?.history.length).toBeGreaterThan(0);
    expect(state?.history.every((h) => h.step === "add" && h.actor === "carla")).toBe(true);
    expect((state as { completed?: Record<string, unknown> })?.completed).toHaveProperty("add");
  });
});
