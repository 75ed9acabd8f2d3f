// Issue 19 part 1: the backfill's validate design, one interleaving at a time, for the records
// kind (the example's 0001): the scenarios and the gated dual-write are test/support/interleavings.ts.
import { DeleteCommand, PutCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { type DynamoClients, batchPutAll, deriveRecords, loadMigration, ownerOf } from "@ferry/core";
import { generateWorkflows } from "@ferry/example-workflows";
import { resumeConversion, startConversion } from "@ferry/core/backfill/control";
import { verifyMigration } from "@ferry/core/verify/verify-migration";
import { describe, expect, it, onTestFinished } from "vitest";
import { freshExampleTable, testClients } from "../support/dynamo.ts";
import { invariantDiff } from "../support/invariant.ts";
import { SCENARIOS, dieBeforeValidation, forcedPage, gatedDualWrite, until, victimControl } from "../support/interleavings.ts";

const m1 = await loadMigration("0001");
type Item = Record<string, unknown> & { PK: string; SK: string };

async function derivedOnly(clients: DynamoClients, table: string): Promise<Item[]> {
  const out = await clients.doc.send(new ScanCommand({ TableName: table, ConsistentRead: true }));
  return (out.Items ?? []).filter((i) => ownerOf(i, m1.id)) as Item[];
}

/** A stream table of six workflows (the victim with one context, ctx-a), the gated dual-write caught up and held, no derived records yet. */
async function arrange() {
  const clients = testClients();
  const table = await freshExampleTable(clients, "ilv");
  const controlTable = `${table}.ferry`;
  const items = [...generateWorkflows({ tenants: 1, workflows: 6, contexts: 2, pool: 6, tasks: 0, itemKb: 1, seed: 19 })] as unknown as Item[];
  const victim = { ...items[2], contexts: [{ id: "ctx-a", name: "A" }] } as Item;
  const seed = items.map((i) => (i.SK === victim.SK ? victim : i));
  await batchPutAll(clients.doc, table, seed);
  const seedRecords = seed.flatMap((i) => deriveRecords(m1, i)).length;
  const gated = await gatedDualWrite(testClients(), table, controlTable, m1, (keys) => keys.SK?.S === victim.SK);
  onTestFinished(() => gated.dualWrite.stop());
  // The dual-write has seen the seed; its records go, so the backfill alone has to write them.
  await until(async () => (await derivedOnly(clients, table)).length === seedRecords, "the dual-write to derive the seed");
  for (const r of await derivedOnly(clients, table)) await clients.doc.send(new DeleteCommand({ TableName: table, Key: { PK: r.PK, SK: r.SK } }));
  gated.hold();

  // Victim records the dual-write has to apply before it has caught up (the seed's INSERT is one).
  const { control, pending } = victimControl(
    gated,
    (version) => clients.doc.send(new PutCommand({ TableName: table, Item: { ...victim, contexts: [{ id: `ctx-${version}`, name: version.toUpperCase() }] } })),
    () => clients.doc.send(new DeleteCommand({ TableName: table, Key: { PK: victim.PK, SK: victim.SK } })),
  );
  return { clients, table, controlTable, victim, gated, control, pending };
}

describe("the backfill's validation, each interleaving with the dual-write forced", () => {
  it.each(SCENARIOS)("converges exactly: %s", async (_name, steps, repaired) => {
    const { clients, table, gated, control, pending } = await arrange();
    const { result, fired } = await forcedPage(table, m1, steps, control, gated, pending);

    expect(fired).toEqual(["beforeWrite", "beforeValidate"]);
    expect(await invariantDiff(clients, table, m1)).toMatchObject({ missing: [], orphans: [], different: [] });
    expect(result.counters).toMatchObject({ sources: 6, converted: 6, repaired, failed: 0 });
    expect(await verifyMigration(clients, table, m1, {})).toMatchObject({ clean: true });
    expect(await gated.dualWrite.deadLetters()).toEqual([]);
  });
});

describe("a page attempt that dies between its writes and its validation read", () => {
  it("leaves no stale record behind: the next attempt validates what the dead one noted before writing", async () => {
    const { clients, table, controlTable, gated, control, pending } = await arrange();
    const ctx = { tableName: table, controlTable, migration: m1 };
    const dying = testClients();
    dieBeforeValidation(dying, control);
    const failed = await startConversion({ ...ctx, clients: dying }, { segments: 1, pageSize: 100, rate: 100_000 }, { retryIntervalMs: 5 });
    expect(failed.run.status).toBe("failed");
    // The hazard is real: the dead attempt's record of A outlives A.
    expect((await invariantDiff(clients, table, m1)).orphans).toHaveLength(1);

    const resumed = await resumeConversion({ ...ctx, clients }, {}, { retryIntervalMs: 5 });
    gated.release();
    await until(() => gated.applied() >= pending(), "the dual-write to apply the rest");
    expect(resumed.run.status).toBe("completed");
    expect(await invariantDiff(clients, table, m1)).toMatchObject({ missing: [], orphans: [], different: [] });
    expect(resumed.totals).toMatchObject({ sources: 6, converted: 6, failed: 0 });
    expect(resumed.totals.repaired).toBeGreaterThanOrEqual(1);
  });
});
