// The table kind's backfill page beside its dual-write, one interleaving at a time: the same
// scenarios as the records kind's (test/support/interleavings.ts), on a copy into a RE-KEYED
// target. The victim's change moves its records to other target keys (category and score
// are in the key), so a stale write is an orphan under another key, and the repair is a
// transaction spanning both tables: a ConditionCheck on the source item, the target's writes.
import { join } from "node:path";
import { DeleteCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { type DynamoClients, loadMigration, migrationOnTable } from "@ferry/core";
import { resumeConversion, startConversion } from "@ferry/core/backfill/control";
import { verifyMigration } from "@ferry/core/verify/verify-migration";
import { afterEach, describe, expect, it, onTestFinished } from "vitest";
import { scanAll, testClients } from "../support/dynamo.ts";
import { SCENARIOS, dieBeforeValidation, forcedPage, gatedDualWrite, until, victimControl } from "../support/interleavings.ts";
import { FOREIGN_ITEM, kindTableTables, targetInvariant } from "../support/kind-table.ts";

const DIR = join(import.meta.dirname, "../fixtures/migrations-kind-table");
type Item = Record<string, unknown>;

afterEach(() => {
  delete process.env.FERRY_TARGET_TABLE;
});

/** ferry's records in the target (the foreign item is not one). */
async function copied(clients: DynamoClients, target: string): Promise<Item[]> {
  return (await scanAll(clients, target)).filter((i) => "ferry" in i);
}

/** Six shop items and a re-keyed target, the gated dual-write caught up and held, no copied records yet. */
async function arrange() {
  const clients = testClients();
  const { table, target, sources, controlTable } = await kindTableTables(clients, "kti", 6, 23);
  process.env.FERRY_TARGET_TABLE = target;
  const migration = await migrationOnTable(clients.doc, await loadMigration("0001", DIR), table);
  // The victim: "a" as seeded, "b" in another category with another score (both target keys move).
  const victim: Item = { ...(sources[2] as Item), category: "tea", score: 3, featured: true };
  const versions: Record<"a" | "b", Item> = { a: victim, b: { ...victim, category: "cups", score: 41, featured: undefined } };
  await clients.doc.send(new PutCommand({ TableName: table, Item: victim }));
  const gated = await gatedDualWrite(testClients(), table, controlTable, migration, (keys) => keys.sk?.S === victim.sk);
  onTestFinished(() => gated.dualWrite.stop());
  const expected = (await targetInvariant(clients, table, target, migration.id)).expected;
  await until(async () => (await copied(clients, target)).length === expected, "the dual-write to copy the seed");
  for (const r of await copied(clients, target)) await clients.doc.send(new DeleteCommand({ TableName: target, Key: { ctx: r.ctx, rank: r.rank } }));
  gated.hold();

  const { control, pending } = victimControl(
    gated,
    (version) => {
      const { featured, ...rest } = versions[version];
      return clients.doc.send(new PutCommand({ TableName: table, Item: featured ? { ...rest, featured } : rest }));
    },
    () => clients.doc.send(new DeleteCommand({ TableName: table, Key: { pk: victim.pk, sk: victim.sk } })),
  );
  return { clients, table, target, controlTable, migration, gated, control, pending };
}

describe("the table kind's backfill page, each interleaving with the dual-write forced", () => {
  it.each(SCENARIOS)("converges exactly: %s", async (_name, steps, repaired) => {
    const { clients, table, target, migration, gated, control, pending } = await arrange();
    const { result, fired } = await forcedPage(table, migration, steps, control, gated, pending);

    expect(fired).toEqual(["beforeWrite", "beforeValidate"]);
    expect(await targetInvariant(clients, table, target, migration.id)).toMatchObject({ missing: [], orphans: [], stale: [] });
    expect(result.counters).toMatchObject({ sources: 6, converted: 6, repaired, failed: 0 });
    expect(await verifyMigration(clients, table, migration, {})).toMatchObject({ clean: true });
    expect(await gated.dualWrite.deadLetters()).toEqual([]);
    expect((await scanAll(clients, target)).filter((i) => !("ferry" in i))).toEqual([FOREIGN_ITEM]);
  });
});

describe("a table-kind page attempt that dies between its writes and its validation read", () => {
  it("leaves no orphan in the target: the next attempt validates what the dead one noted before writing", async () => {
    const { clients, table, target, controlTable, migration, gated, control, pending } = await arrange();
    const ctx = { tableName: table, controlTable, migration };
    const dying = testClients();
    dieBeforeValidation(dying, control);
    const failed = await startConversion({ ...ctx, clients: dying }, { segments: 1, pageSize: 100, rate: 100_000 }, { retryIntervalMs: 5 });
    expect(failed.run.status).toBe("failed");
    // The hazard is real: the dead attempt's records of A (two keys: its category and FEATURED) outlive A.
    expect((await targetInvariant(clients, table, target, migration.id)).orphans).toHaveLength(2);

    const resumed = await resumeConversion({ ...ctx, clients }, {}, { retryIntervalMs: 5 });
    gated.release();
    await until(() => gated.applied() >= pending(), "the dual-write to apply the rest");
    expect(resumed.run.status).toBe("completed");
    expect(await targetInvariant(clients, table, target, migration.id)).toMatchObject({ missing: [], orphans: [], stale: [] });
    expect(resumed.totals).toMatchObject({ sources: 6, converted: 6, failed: 0 });
    expect(resumed.totals.repaired).toBeGreaterThanOrEqual(1);
  });
});
