// Issue 16's bad input on tables that are not the example: a derive whose record lacks the
// table's sort key, or writes a string where the key is a number, fails `ferry check` naming
// the record and the attribute; a migration run on a table whose keys do not fit it is
// refused by every command before anything is written.
import { DescribeTableCommand, ScanCommand } from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";
import { ANY_TABLE_BAD_MIGRATIONS, ANY_TABLE_MIGRATIONS, createAnyTable, ferry, putAll, rawSnapshot } from "../support/any-table.ts";
import { endpoint, testClients } from "../support/dynamo.ts";

const clients = testClients();
const PK_SK = { partitionKey: { name: "pk", type: "S" as const }, sortKey: { name: "sk", type: "S" as const } };
const DEVICE_TS = { partitionKey: { name: "deviceId", type: "S" as const }, sortKey: { name: "ts", type: "N" as const } };

describe("ferry check on a derive that does not speak the table's keys", () => {
  it("names the record and the missing sort key attribute `sk`", async () => {
    const { table } = await createAnyTable(clients, "badsk", PK_SK, false);
    await putAll(clients, table, [
      { pk: "CUST#1", sk: "ORDER#7", status: "open" },
      { pk: "CUST#1", sk: "PROFILE", name: "untouched" },
    ]);

    const out = await ferry(["check", "0001", "--table", table, "--endpoint", endpoint(), "--migrations-dir", ANY_TABLE_BAD_MIGRATIONS]);

    expect(out.code, out.stderr).toBe(1);
    expect(out.stdout).toMatch(/pk="CUST#1" sk="ORDER#7"/);
    expect(out.stdout).toMatch(/record 0 \(pk="STATUS#open"\): key attribute "sk" is missing/);
  });

  it("names the record and the numeric sort key `ts` given a string", async () => {
    const { table } = await createAnyTable(clients, "badts", DEVICE_TS, false);
    await putAll(clients, table, [{ deviceId: "dev-1", ts: 1_764_000_000_001, type: "click" }]);

    const out = await ferry(["check", "0002", "--table", table, "--endpoint", endpoint(), "--migrations-dir", ANY_TABLE_BAD_MIGRATIONS]);

    expect(out.code, out.stderr).toBe(1);
    expect(out.stdout).toMatch(/deviceId="dev-1" ts=1764000000001/);
    expect(out.stdout).toMatch(/record 0 \(deviceId="TYPE#click" ts="1764000000001"\): key attribute "ts" must be a number \(the table's type N\)/);
  });
});

describe("a migration on a table whose keys do not fit it", () => {
  it("is refused by add, dual-write, convert, verify --repair and rollback, naming both key schemas, with nothing written", async () => {
    // 0001_orders-by-status declares pk/sk; this table is keyed deviceId/ts.
    const { table, controlTable } = await createAnyTable(clients, "misfit", DEVICE_TS);
    await putAll(clients, table, [
      { deviceId: "dev-1", ts: 1, type: "click", sk: "ORDER#1", status: "open", total: 1 },
      { deviceId: "FLEET#north", ts: 0, region: "north" },
    ]);
    const before = await rawSnapshot(clients, table, DEVICE_TS);
    const conn = ["--table", table, "--endpoint", endpoint(), "--migrations-dir", ANY_TABLE_MIGRATIONS];

    for (const args of [
      ["add", "0001"],
      ["dual-write", "0001"],
      ["convert", "0001", "--force", "--reason", "try anyway"],
      ["verify", "0001", "--repair"],
      ["rollback", "0001", "--force", "--reason", "try anyway"],
    ]) {
      const out = await ferry([...args, ...conn]);
      expect(out.code, `${args.join(" ")}: ${out.stdout}${out.stderr}`).not.toBe(0);
      expect(out.stderr, args.join(" ")).toMatch(/pk.*sk.*deviceId.*ts|deviceId.*ts.*pk.*sk/s);
    }

    expect(await rawSnapshot(clients, table, DEVICE_TS)).toEqual(before);
    // Nothing recorded for the migration either (the control table may not even exist).
    const exists = await clients.raw.send(new DescribeTableCommand({ TableName: controlTable })).then(
      () => true,
      (err: Error) => (err.name === "ResourceNotFoundException" ? false : Promise.reject(err)),
    );
    if (exists) {
      const control = await clients.raw.send(new ScanCommand({ TableName: controlTable, ConsistentRead: true }));
      expect(control.Items ?? []).toEqual([]);
    }
  });
});
