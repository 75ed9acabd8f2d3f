// The `table` kind's binding and plan rules: the target's key schema is read and checked
// (a mismatch names the target, a missing target is refused saying ferry never creates
// tables, the source itself is refused as a target); derive's records are validated against
// the target's keys; the dual-write's plan keys deletes by the target's keys, and treats the
// remove sweep's mark (a MODIFY) and its marked REMOVE as unchanged while a plain REMOVE
// deletes the records.
import { join } from "node:path";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { InvalidDerivedRecordsError, KeySchemaMismatchError, defineMigration, loadMigration } from "@ferry/core";
import { deriveRecords } from "@ferry/core/definition/derive";
import { TargetIsSourceError, TargetTableMissingError, migrationOnTable } from "@ferry/core/definition/table-keys";
import { CLEANUP_MARK_ATTRIBUTE, planStreamRecord } from "@ferry/core/dualwrite/plan";
import type { AttributeValue, DynamoDBRecord } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ferry, jsonOf } from "../support/any-table.ts";
import { endpoint, testClients } from "../support/dynamo.ts";
import { kindTableTables } from "../support/kind-table.ts";

const DIR = join(import.meta.dirname, "../fixtures/migrations-kind-table");
const env = (target: string) => ({ FERRY_TARGET_TABLE: target });

describe("binding a table migration to its target", () => {
  it("reads the target's keys; refuses a mismatch naming the target, a missing target (exit 3, ferry never creates tables) and the source as target", async () => {
    const clients = testClients();
    const migration = await loadMigration("0001", DIR);
    const { table, target } = await kindTableTables(clients, "ktb", 3, 1);
    const bound = await migrationOnTable(clients.raw, migration, table, env(target));
    expect(bound.target).toEqual({ table: target, keys: { partitionKey: { name: "ctx", type: "S" }, sortKey: { name: "rank", type: "N" } } });

    // The source table as a target (its keys are pk/sk, the file declares ctx/rank: either refusal is right; the source check comes first).
    await expect(migrationOnTable(clients.raw, migration, table, env(table))).rejects.toThrow(TargetIsSourceError);
    // A table keyed otherwise than the declared target keys.
    const { table: otherKeyed } = await kindTableTables(clients, "ktb2", 0, 1);
    const mismatch = migrationOnTable(clients.raw, migration, table, env(otherKeyed));
    await expect(mismatch).rejects.toThrow(KeySchemaMismatchError);
    await expect(mismatch).rejects.toThrow(new RegExp(`table ${otherKeyed} is keyed by`));
    const missing = migrationOnTable(clients.raw, migration, table, env("no-such-target"));
    await expect(missing).rejects.toThrow(TargetTableMissingError);
    await expect(missing).rejects.toThrow(/never creates or deletes tables.*ctx \(S\) \+ rank \(N\)/);

    // Through the real CLI: add refuses with exit 3 and one line saying what to do.
    const saved = process.env.FERRY_TARGET_TABLE;
    process.env.FERRY_TARGET_TABLE = "no-such-target";
    try {
      const add = await ferry(["add", "0001", "--actor", "ana", "--table", table, "--endpoint", endpoint(), "--migrations-dir", DIR]);
      expect(add.code).toBe(3);
      expect(add.stderr).toMatch(/no-such-target, which does not exist\. ferry never creates or deletes tables/);
    } finally {
      if (saved === undefined) delete process.env.FERRY_TARGET_TABLE;
      else process.env.FERRY_TARGET_TABLE = saved;
    }
    // check and plan work on the target's key schema.
    process.env.FERRY_TARGET_TABLE = target;
    try {
      const check = jsonOf(await ferry(["check", "0001", "--json", "--table", table, "--endpoint", endpoint(), "--migrations-dir", DIR]));
      expect(check).toMatchObject({ ok: true, problemCount: 0 });
      expect(check.checked.sample).toBe(3);
    } finally {
      delete process.env.FERRY_TARGET_TABLE;
    }
  });

  it("check compares the sampled items' records with the target's items: one landing on another service's item fails, naming both", async () => {
    const clients = testClients();
    const { table, target, sources } = await kindTableTables(clients, "ktc", 5, 2);
    const item = sources[1] as Record<string, unknown>;
    // Another service's item exactly where the item's category record would go.
    const rank = (item.score as number) * 1_000_000 + (item.seq as number);
    await clients.doc.send(new PutCommand({ TableName: target, Item: { ctx: `CAT#${item.category}`, rank, note: "someone else's" } }));
    process.env.FERRY_TARGET_TABLE = target;
    try {
      const args = ["check", "0001", "--json", "--table", table, "--endpoint", endpoint(), "--migrations-dir", DIR];
      const failed = await ferry(args);
      expect(failed.code).toBe(1);
      const report = jsonOf(failed);
      expect(report.problems.existingItemCollision).toMatchObject({ count: 1, examples: [{ origin: "sample", key: { pk: item.pk, sk: item.sk } }] });
      expect(report.problems.existingItemCollision.examples[0].message).toContain(`would land on an item already in the target table ${target}`);
      // The foreign item seeded in every target (FOREIGN_ITEM) and the planted one were read: 2 items, neither ferry's.
      expect(report.sample.target).toEqual({ table: target, exists: true, scanned: 2, complete: true });
      // The add guard runs the same check: refused (exit 3), naming the record and the target.
      const add = await ferry(["add", "0001", "--actor", "ana", "--table", table, "--endpoint", endpoint(), "--migrations-dir", DIR]);
      expect(add.code).toBe(3);
      expect(add.stderr).toContain(`would land on an item already in the target table ${target}`);

      // A target that does not exist yet is said so, and nothing is compared with it.
      process.env.FERRY_TARGET_TABLE = "not-created-yet";
      const text = await ferry(args.filter((a) => a !== "--json"));
      expect(text.stdout).toMatch(/not-created-yet does not exist yet: records not compared with it/);
    } finally {
      delete process.env.FERRY_TARGET_TABLE;
    }
  });

  it("a file naming its source table as target is refused at load, naming the field", () => {
    expect(() =>
      defineMigration({
        id: "0009_same",
        description: "x",
        table: "Items",
        kind: "table",
        target: { table: "Items" },
        source: { skPrefix: "I#" },
        schema: z.object({}),
        derive: () => [],
      }),
    ).toThrow(/target\.table: the target must be another table than the source \(Items\)/);
  });
});

describe("derive and the plan of a table migration", () => {
  const spec = {
    id: "0009_copy",
    description: "copy",
    table: "Items",
    keys: { partitionKey: { name: "pk", type: "S" }, sortKey: { name: "sk", type: "S" } },
    kind: "table",
    target: { table: "ItemsByCtx", keys: { partitionKey: { name: "ctx", type: "S" }, sortKey: { name: "rank", type: "N" } } },
    source: { skPrefix: "ITEM#" },
    schema: z.object({ c: z.string(), r: z.number() }),
    cleanup: { deleteSourceItems: true },
    derive: (i: Record<string, unknown>) => [{ ctx: i.c, rank: i.r, from: i.sk }],
  } as const;
  const migration = defineMigration(spec as never);
  const item = { pk: "S#1", sk: "ITEM#1", c: "tea", r: 3 };
  const image = (v: Record<string, unknown>) => marshall(v) as Record<string, AttributeValue>;
  const streamRecord = (eventName: "MODIFY" | "REMOVE", old: Record<string, unknown>, next?: Record<string, unknown>): DynamoDBRecord => ({
    eventName,
    dynamodb: {
      Keys: image({ pk: old.pk, sk: old.sk }),
      SequenceNumber: "1",
      StreamViewType: "NEW_AND_OLD_IMAGES",
      OldImage: image(old),
      ...(next ? { NewImage: image(next) } : {}),
    },
  });

  it("stamps records keyed by the target with the owner's source key; validates the target's key types; no source-collision rule", () => {
    expect(deriveRecords(migration, item)).toEqual([
      { ctx: "tea", rank: 3, from: "ITEM#1", ferry: { migration: "0009_copy", owner: { pk: "S#1", sk: "ITEM#1" } } },
    ]);
    // A record on the source's own key is fine in another table; a string rank is not.
    const sameKey = defineMigration({ ...spec, derive: (i: Record<string, unknown>) => [{ ctx: i.pk, rank: 1, pk: i.pk, sk: i.sk }] } as never);
    expect(() => deriveRecords(sameKey, item)).not.toThrow();
    const badType = defineMigration({ ...spec, derive: () => [{ ctx: "a", rank: "1" }] } as never);
    expect(() => deriveRecords(badType, item)).toThrow(InvalidDerivedRecordsError);
    expect(() => deriveRecords(badType, item)).toThrow(/rank/);
  });

  it("the sweep's mark is an unchanged MODIFY, its marked REMOVE is the cleanup's; a plain REMOVE deletes the target keys", () => {
    const marked = { ...item, [CLEANUP_MARK_ATTRIBUTE]: { migration: "0009_copy", nonce: "n-1" } };
    expect(planStreamRecord(migration, streamRecord("MODIFY", item, marked))).toMatchObject({ kind: "unchanged" });
    expect(planStreamRecord(migration, streamRecord("REMOVE", marked))).toMatchObject({ kind: "unchanged" });
    // Another migration's mark is not this one's cleanup.
    const foreignMark = { ...item, [CLEANUP_MARK_ATTRIBUTE]: { migration: "0010_other", nonce: "n-2" } };
    expect(planStreamRecord(migration, streamRecord("REMOVE", foreignMark))).toMatchObject({ kind: "apply", deletes: [{ ctx: "tea", rank: 3 }] });
    expect(planStreamRecord(migration, streamRecord("REMOVE", item))).toEqual({
      kind: "apply",
      key: { pk: "S#1", sk: "ITEM#1" },
      puts: [],
      deletes: [{ ctx: "tea", rank: 3 }],
      fresh: [],
    });
  });
});
