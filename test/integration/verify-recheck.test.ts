// verify under live writes: defects the dual-write settles during the recheck delay are not reported; persistent ones are.
import { DeleteCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { OWNER_ATTRIBUTE, batchPutAll, deriveRecords, loadMigration } from "@ferry/core";
import { generateWorkflows } from "@ferry/example-workflows";
import { verifyMigration } from "@ferry/core/verify/verify-migration";
import { describe, expect, it } from "vitest";
import { freshPlainTable, testClients } from "../support/dynamo.ts";

const m1 = await loadMigration("0001");

async function converted() {
  const clients = testClients();
  const table = await freshPlainTable(clients, "vr");
  const workflows = [...generateWorkflows({ tenants: 1, workflows: 40, contexts: 2, pool: 8, tasks: 1, itemKb: 1, seed: 3 })];
  await batchPutAll(clients.doc, table, workflows);
  await batchPutAll(
    clients.doc,
    table,
    workflows.flatMap((w) => deriveRecords(m1, w)),
  );
  return { clients, table, workflows };
}

const orphanOf = (w: { PK: string; SK: string }) => ({
  PK: w.PK,
  SK: `CTX#ctx-gone#${w.SK}`,
  wf: w.SK,
  [OWNER_ATTRIBUTE]: { migration: m1.id, owner: { PK: w.PK, SK: w.SK } },
});

describe("verify --recheck-after", () => {
  it("drops a defect that is gone when re-read (the dual-write caught up), and says how many it settled", async () => {
    // Arrange: an orphan the "dual-write" deletes right after the scan saw it.
    const { clients, table, workflows } = await converted();
    const orphan = orphanOf(workflows[0]!);
    await clients.doc.send(new PutCommand({ TableName: table, Item: orphan }));
    let fixed: Promise<unknown> | undefined;
    // Act
    const report = await verifyMigration(clients, table, m1, {
      recheckAfterMs: 300,
      onPage: () => {
        fixed ??= clients.doc.send(new DeleteCommand({ TableName: table, Key: { PK: orphan.PK, SK: orphan.SK } }));
      },
    });
    await fixed;
    // Assert
    expect(report).toMatchObject({ clean: true, orphans: 0, beforeRecheck: { orphans: 1, rechecks: 1 } });
    expect(report.scanned).toBeGreaterThan(100);
  });

  it("still reports a defect that persists through every recheck", async () => {
    const { clients, table, workflows } = await converted();
    await clients.doc.send(new PutCommand({ TableName: table, Item: orphanOf(workflows[1]!) }));
    await clients.doc.send(
      new DeleteCommand({ TableName: table, Key: { PK: workflows[2]!.PK, SK: `CTX#${workflows[2]!.contexts[0]!.id}#${workflows[2]!.SK}` } }),
    );
    const report = await verifyMigration(clients, table, m1, { recheckAfterMs: 50, rechecks: 2 });
    expect(report).toMatchObject({ clean: false, orphans: 1, missing: 1, beforeRecheck: { orphans: 1, missing: 1, rechecks: 2 } });
    expect(report.examples.map((e) => e.kind).sort()).toEqual(["missing", "orphan"]);
  });
});
