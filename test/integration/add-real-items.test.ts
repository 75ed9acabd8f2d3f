// Issue 14 item 2: `add` checks the real table, and no backfill, dual-write, repair or
// rollback of one migration overwrites or deletes a record another migration owns. Two
// migrations in test/fixtures/migrations-collide derive the same keys (0010, 0044); a third
// (0045) passes the generated items but throws on two real ones. Through the real CLI.
import { join } from "node:path";
import { marshall } from "@aws-sdk/util-dynamodb";
import { batchPutAll, loadMigration } from "@ferry/core";
import { generateWorkflows } from "@ferry/example-workflows";
import { readMigrationState } from "@ferry/core/control/migration-state";
import { createDualWriter } from "@ferry/core/dualwrite/dual-write";
import { listFailures } from "@ferry/core/dualwrite/failures";
import { lifecycleContext } from "@ferry/core/lifecycle/lifecycle";
import type { DynamoDBRecord } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { ferryBin } from "../support/cli.ts";
import { endpoint, freshExampleTable } from "../support/dynamo.ts";
import { beat, clients, derivedOf, markAdded, snapshot } from "../support/lifecycle.ts";

const dir = join(import.meta.dirname, "../fixtures/migrations-collide");
const m10 = await loadMigration("0010", dir);
const m44 = await loadMigration("0044", dir);
type Item = Record<string, unknown> & { PK: string; SK: string };

/** 100 workflows with 2 contexts each: 0010 derives 200 records from them. */
async function tableConvertedBy0010() {
  const table = await freshExampleTable(clients, "collide");
  const items = [...generateWorkflows({ tenants: 1, workflows: 100, contexts: 2, pool: 40, tasks: 0, itemKb: 1, seed: 44 })] as unknown as Item[];
  await batchPutAll(clients.doc, table, items);
  const conn = ["--table", table, "--endpoint", endpoint(), "--migrations-dir", dir];
  const ctx = (migration: typeof m10) => lifecycleContext({ clients, tableName: table, migration, actor: "ana" });
  const added = await ferryBin(["add", "0010", ...conn]);
  expect(added).toMatchObject({ code: 0 });
  await beat(ctx(m10), Date.now());
  const converted = await ferryBin(["convert", "0010", ...conn, "--rate", "100000"]);
  expect(converted).toMatchObject({ code: 0 });
  expect(derivedOf(await snapshot(table), m10.id)).toHaveLength(200);
  return { table, items, conn, ctx };
}

describe("add sees the real table, and migrations never write over each other", () => {
  it("check and add both refuse 0044 over 0010's records, naming the items and both migrations", async () => {
    const { table, conn, ctx } = await tableConvertedBy0010();

    const check = await ferryBin(["check", "0044", ...conn]);
    const add = await ferryBin(["add", "0044", ...conn]);

    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/record keys of other items in the table\s+100/);
    expect(add.code).toBe(3);
    expect(add.stderr).toMatch(/add of 0044_context-index-again needs a valid plan/);
    expect(add.stderr).toMatch(/record keys of other items in the table: 100/);
    expect(add.stderr).toMatch(
      /sample item PK="tenant-\d+" SK="WF#[^"]+": record PK=.* would overwrite an item already in the table: a record of migration 0010_context-index/,
    );
    // Refused before anything was recorded.
    expect(await readMigrationState({ doc: clients.doc, controlTable: ctx(m44).controlTable, migrationId: m44.id })).toBeUndefined();
    expect(derivedOf(await snapshot(table), m10.id)).toHaveLength(200);
  }, 120_000);

  it("a backfill, a dual-write, a repair and a rollback of 0044 leave 0010's records alone and say so", async () => {
    const { table, items, conn, ctx } = await tableConvertedBy0010();
    const before = derivedOf(await snapshot(table), m10.id);
    // Past the add guard as if it had been skipped: only the write conditions stand in the way.
    await markAdded(ctx(m44));
    await beat(ctx(m44), Date.now());

    const convert = await ferryBin(["convert", "0044", ...conn, "--rate", "100000", "--json"]);
    const writer = createDualWriter({ migration: m44, doc: clients.doc, tableName: table, controlTable: ctx(m44).controlTable });
    const changed = { ...items[0], note: "touched" } as Item;
    const record: DynamoDBRecord = {
      eventID: "e-1",
      eventName: "MODIFY",
      dynamodb: {
        Keys: marshall({ PK: changed.PK, SK: changed.SK }) as never,
        NewImage: marshall(
          { ...changed, contexts: [...(changed.contexts as unknown[]), { id: "ctx-new", name: "New" }] },
          { removeUndefinedValues: true },
        ) as never,
        OldImage: marshall(items[0], { removeUndefinedValues: true }) as never,
        SequenceNumber: "1000001",
        ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
      },
    };
    const batch = writer.startBatch([record]);
    const outcome = await batch.handle(record).catch((err: unknown) => err);
    await batch.finish();
    const repair = await ferryBin(["verify", "0044", ...conn, "--repair", "--recheck-after", "0"]);
    await beat(ctx(m44), Date.now() - 60 * 60_000);
    const rollback = await ferryBin(["rollback", "0044", ...conn]);
    const verify10 = await ferryBin(["verify", "0010", ...conn, "--recheck-after", "0"]);

    // The backfill reports every refused item as failed, naming both migrations.
    expect(convert.code).not.toBe(0);
    expect(`${convert.stdout}${convert.stderr}`).toMatch(/RecordOwnedElsewhereError|refused to overwrite/);
    // The dual-write fails the record with the same refusal and records why.
    expect(outcome).toMatchObject({
      name: "RecordOwnedElsewhereError",
      message: expect.stringMatching(/0044_context-index-again refused to overwrite .* a record of migration 0010_context-index/),
    });
    const failures = await listFailures({ doc: clients.doc, controlTable: ctx(m44).controlTable, migrationId: m44.id });
    expect(failures).toEqual([
      expect.objectContaining({ kind: "poison", errorName: "RecordOwnedElsewhereError", reason: expect.stringMatching(/0010_context-index/) }),
    ]);
    // verify --repair does not claim 0044 clean, and repairs nothing over 0010.
    expect(repair.code).not.toBe(0);
    expect(rollback.code).toBe(0);
    // 0010's 200 records are exactly as they were, and 0010 verifies clean.
    expect(derivedOf(await snapshot(table), m10.id)).toEqual(before);
    expect(verify10).toMatchObject({ code: 0 });
  }, 180_000);

  it("add refuses a migration whose derive throws on two real items, naming them", async () => {
    const table = await freshExampleTable(clients, "throws");
    const items = [...generateWorkflows({ tenants: 1, workflows: 100, contexts: 2, pool: 40, tasks: 0, itemKb: 1, seed: 45 })] as unknown as Item[];
    const legacy = [items[3], items[7]].map((i) => ({ ...i, contexts: [{ id: "legacy-1", name: "Old" }] }) as Item);
    await batchPutAll(clients.doc, table, [...items.filter((i) => i !== items[3] && i !== items[7]), ...legacy]);

    const add = await ferryBin(["add", "0045", "--table", table, "--endpoint", endpoint(), "--migrations-dir", dir]);

    expect(add.code).toBe(3);
    expect(add.stderr).toMatch(/derive\(\) threw: 2/);
    expect(add.stderr).toMatch(new RegExp(`sample item PK="${legacy[0]?.PK}" SK="(${legacy[0]?.SK}|${legacy[1]?.SK})": Error: context legacy-1 has no name`));
  }, 120_000);
});
