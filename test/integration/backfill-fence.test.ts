// The run fence: a page re-reads the run record before a transaction call once its last read is
// older than fenceMaxAgeMs, so a page already writing when pause/abort (or a rollback's abort) is
// requested sends nothing once that age has passed, beyond the calls in progress (a page keeps
// at most BATCHES_IN_FLIGHT = 4 write calls in flight). With age 0 it sends nothing after them. Without it a rollback could delete the derived records while a page in flight (on a
// stage, a Lambda that StopExecution does not stop) writes the rest of them back.
import { batchPutAll, deriveRecords, keyId, loadMigration, ownerOf } from "@ferry/core";
import { generateWorkflows, WORKFLOWS_TABLE } from "@ferry/example-workflows";
import { conversionStatus, requestStop, resumeConversion, startConversion } from "@ferry/core/backfill/control";
import { describe, expect, it } from "vitest";
import { freshPlainTable, scanAll, testClients } from "../support/dynamo.ts";

/**
 * Clients that run `after` once their `n`th write call (BatchExecuteStatement, backfill/writes.ts)
 * returned (another terminal acting while the page writes); every write call returns only once
 * `after` is done, so the calls in flight with it are the page's only ones before the stop.
 */
function stopDuringWrite(n: number, after: () => Promise<unknown>, calls = { n: 0 }) {
  const clients = testClients();
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  clients.raw.middlewareStack.add(
    (next, context) => async (args) => {
      const out = await next(args);
      if (context.commandName !== "BatchExecuteStatementCommand") return out;
      if (++calls.n === n) {
        await after();
        release();
      }
      await gate;
      return out;
    },
    { step: "initialize", name: "stopDuringWrite" },
  );
  return clients;
}

describe("backfill run fence", () => {
  it("an abort requested while a page writes: the page sends nothing more, the run ends aborted, no checkpoint for it", async () => {
    const migration = await loadMigration("0001");
    const observer = testClients();
    const table = await freshPlainTable(observer, "fence");
    const controlTable = `${table}.ferry`;
    const items = [...generateWorkflows({ tenants: 1, workflows: 200, contexts: 2, pool: 20, tasks: 1, itemKb: 1 })];
    await batchPutAll(observer.doc, table, items);
    const base = { tableName: table, controlTable, migration };
    // One page of 200 items: 400 records in 16 calls of 25, 4 in flight; the abort lands after the first.
    const clients = stopDuringWrite(1, () => requestStop({ ...base, clients: observer }, "abort"));

    const result = await startConversion({ ...base, clients }, { segments: 1, pageSize: 200, rate: 1_000_000, fenceMaxAgeMs: 0 });

    expect(result.run.status).toBe("aborted");
    const status = await conversionStatus({ ...base, clients: observer });
    expect(status.checkpoints[0]?.pages ?? 0).toBe(0);
    // Exactly the 4 calls in flight when the abort came, 100 records: no call was sent after it.
    const derived = (await scanAll(observer, table))
      .filter((i) => ownerOf(i, migration.id))
      .map((i) => keyId(WORKFLOWS_TABLE, i))
      .sort();
    expect(derived).toHaveLength(100);
  });

  it("a pause while a page writes: the page is redone on resume and the table ends exactly converted", async () => {
    const migration = await loadMigration("0001");
    const observer = testClients();
    const table = await freshPlainTable(observer, "fencep");
    const controlTable = `${table}.ferry`;
    const items = [...generateWorkflows({ tenants: 1, workflows: 40, contexts: 2, pool: 20, tasks: 1, itemKb: 1 })];
    await batchPutAll(observer.doc, table, items);
    const base = { tableName: table, controlTable, migration };
    const clients = stopDuringWrite(1, () => requestStop({ ...base, clients: observer }, "pause"));

    const paused = await startConversion({ ...base, clients }, { segments: 1, pageSize: 40, rate: 1_000_000, fenceMaxAgeMs: 0 });
    expect(paused.run.status).toBe("paused");
    const resumed = await resumeConversion({ ...base, clients: observer }, {});

    expect(resumed.run.status).toBe("completed");
    const derived = (await scanAll(observer, table))
      .filter((i) => ownerOf(i, migration.id))
      .map((i) => keyId(WORKFLOWS_TABLE, i))
      .sort();
    const expected = items
      .flatMap((i) => deriveRecords(migration, i as never))
      .map((r) => keyId(WORKFLOWS_TABLE, r))
      .sort();
    expect(derived).toEqual(expected);
  });

  it("a stale fence: a page stops once its last read is older than fenceMaxAgeMs, not before", async () => {
    const migration = await loadMigration("0001");
    const observer = testClients();
    const items = [...generateWorkflows({ tenants: 1, workflows: 200, contexts: 2, pool: 20, tasks: 1, itemKb: 1 })];
    async function abortAfterFirstCall(prefix: string, fenceMaxAgeMs: number, waitMs: number) {
      const table = await freshPlainTable(observer, prefix);
      await batchPutAll(observer.doc, table, items);
      const base = { tableName: table, controlTable: `${table}.ferry`, migration };
      const calls = { n: 0 };
      const clients = stopDuringWrite(
        1,
        async () => {
          await requestStop({ ...base, clients: observer }, "abort");
          await new Promise((r) => setTimeout(r, waitMs));
        },
        calls,
      );
      const result = await startConversion({ ...base, clients }, { segments: 1, pageSize: 200, rate: 1_000_000, fenceMaxAgeMs });
      return { status: result.run.status, calls: calls.n };
    }

    // The abort comes 0.5 s after a read the fence may trust for 60 s: all 16 of the page's calls still go out.
    const fresh = await abortAfterFirstCall("fences", 60_000, 500);
    // The same after 0.5 s with a fence trusted for 0.2 s: the page re-reads, sees the abort and sends nothing after the 4 in flight.
    const stale = await abortAfterFirstCall("fencet", 200, 500);

    expect(fresh).toEqual({ status: "aborted", calls: 16 });
    expect(stale).toEqual({ status: "aborted", calls: 4 });
  });
});
