// The control store's one compare-and-swap: concurrent writers of the state record, the
// release record and the backfill run record each keep every change (the loser re-reads and
// re-applies), and a record that changes under every attempt ends in a typed WriteConflictError.
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { WriteConflictError, compareAndSwap, unchangedSince } from "@ferry/core/control/cas";
import { ControlSk, migrationPk } from "@ferry/core/control/keys";
import { readMigrationState, recordStep } from "@ferry/core/control/migration-state";
import { pinTenant, readRelease } from "@ferry/core/release/store";
import { ensureControlTable } from "@ferry/core/control/control-table";
import { describe, expect, it } from "vitest";
import { testClients, uniqueTableName } from "../support/dynamo.ts";

const clients = testClients();

async function controlTable() {
  const name = `${uniqueTableName("cas")}.ferry`;
  await ensureControlTable(clients.raw, name);
  return { doc: clients.doc, controlTable: name, migrationId: "0001_cas" };
}

describe("compare-and-swap on control records", () => {
  it("twenty concurrent history entries and twenty concurrent pins all land", async () => {
    const location = await controlTable();

    await Promise.all(Array.from({ length: 20 }, (_, i) => recordStep(location, { step: "add", actor: `a${i}` })));
    await Promise.all(Array.from({ length: 20 }, (_, i) => pinTenant(location, `tenant-${i}`, "v2", "ana")));

    const state = await readMigrationState(location);
    expect(state?.history.map((h) => h.actor).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `a${i}`).sort());
    const release = await readRelease(location);
    expect(Object.keys(release.pins)).toHaveLength(20);
    expect(release.revision).toBe(20);
  });

  it("a record that changes under every attempt ends in WriteConflictError naming the record, with the last conflict as cause", async () => {
    const location = await controlTable();
    const key = { PK: migrationPk(location.migrationId), SK: ControlSk.state };
    let version = 0;
    let attempts = 0;

    const contested = compareAndSwap({ doc: location.doc, record: "state record", migrationId: location.migrationId, attempts: 3 }, async () => {
      attempts++;
      const seen = version;
      // Another writer gets there first, every time.
      await location.doc.send(new PutCommand({ TableName: location.controlTable, Item: { ...key, version: ++version } }));
      return {
        value: seen,
        put: { TableName: location.controlTable, Item: { ...key, version: seen + 1 }, ...unchangedSince(["version"], seen === 0 ? undefined : seen) },
      };
    });

    const err = await contested.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WriteConflictError);
    expect(err).toMatchObject({ name: "WriteConflictError", data: { record: "state record", migrationId: "0001_cas", attempts: 3 }, exitCode: 1 });
    expect((err as Error).message).toMatch(/The state record of 0001_cas kept changing under this command \(3 attempts\); run it again/);
    expect((err as Error).cause).toBeInstanceOf(ConditionalCheckFailedException);
    expect(attempts).toBe(3);
  });
});
