// The run fence: every backfill transaction carries a ConditionCheck on the run record, so a
// page already writing when pause/abort (or a rollback's abort) is requested commits nothing
// after the request. Without it a rollback could delete the derived records and a page in
// flight, on a stage a Lambda that StopExecution does not stop, would write them back.
import { batchPutAll, deriveRecords, generateWorkflows, keyId, loadMigration, ownerOf } from "@ferry/core";
import { conversionStatus, requestStop, resumeConversion, startConversion } from "@ferry/core/backfill/control";
import { describe, expect, it } from "vitest";
import { freshPlainTable, scanAll, testClients } from "../support/dynamo.ts";

/** Clients whose `n`th TransactWriteItems call first runs `before` (another terminal acting while the page writes). */
function stopDuringWrite(n: number, before: () => Promise<unknown>) {
  const clients = testClients();
  let calls = 0;
  clients.raw.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "TransactWriteItemsCommand" && ++calls === n) await before();
      return next(args);
    },
    { step: "initialize", name: "stopDuringWrite" },
  );
  return clients;
}

describe("backfill run fence", () => {
  it("an abort requested while a page writes: that page commits nothing after it, the run ends aborted, no checkpoint for it", async () => {
    const migration = await loadMigration("0001");
    const observer = testClients();
    const table = await freshPlainTable(observer, "fence");
    const controlTable = `${table}.ferry`;
    const items = [...generateWorkflows({ tenants: 1, workflows: 40, contexts: 2, pool: 20, tasks: 1, itemKb: 1 })];
    await batchPutAll(observer.doc, table, items);
    const base = { tableName: table, controlTable, migration };
    // Pages of 10 items: one transaction per page (10 checks + 20 puts + the fence).
    const clients = stopDuringWrite(2, () => requestStop({ ...base, clients: observer }, "abort"));

    const result = await startConversion({ ...base, clients }, { segments: 1, pageSize: 10, rate: 1_000_000 });

    expect(result.run.status).toBe("aborted");
    const status = await conversionStatus({ ...base, clients: observer });
    expect(status.checkpoints[0]).toMatchObject({ pages: 1, counters: { converted: 10 } });
    // Exactly the first page's records: the second page's transaction was refused by the fence.
    const derived = (await scanAll(observer, table)).filter((i) => ownerOf(i, migration.id)).map((i) => keyId(i as never)).sort();
    expect(derived).toHaveLength(20);
  });

  it("a pause while a page writes: the page is redone on resume and the table ends exactly converted", async () => {
    const migration = await loadMigration("0001");
    const observer = testClients();
    const table = await freshPlainTable(observer, "fencep");
    const controlTable = `${table}.ferry`;
    const items = [...generateWorkflows({ tenants: 1, workflows: 30, contexts: 2, pool: 20, tasks: 1, itemKb: 1 })];
    await batchPutAll(observer.doc, table, items);
    const base = { tableName: table, controlTable, migration };
    const clients = stopDuringWrite(2, () => requestStop({ ...base, clients: observer }, "pause"));

    const paused = await startConversion({ ...base, clients }, { segments: 1, pageSize: 10, rate: 1_000_000 });
    expect(paused.run.status).toBe("paused");
    const resumed = await resumeConversion({ ...base, clients: observer }, {});

    expect(resumed.run.status).toBe("completed");
    const derived = (await scanAll(observer, table)).filter((i) => ownerOf(i, migration.id)).map((i) => keyId(i as never)).sort();
    const expected = items.flatMap((i) => deriveRecords(migration, i as never)).map((r) => keyId(r)).sort();
    expect(derived).toEqual(expected);
  });
});
