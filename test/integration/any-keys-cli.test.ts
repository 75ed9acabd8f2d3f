// Issue 16 through the real bin: a migration whose declared keys do not fit the table is refused
// before anything is written, and `ferry new --table` writes the table's own key names and types.
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { StreamViewType, describeTable, ensureTable, loadMigrationFile } from "@ferry/core";
import { afterAll, describe, expect, it } from "vitest";
import { ferryBin } from "../support/cli.ts";
import { dropTable, endpoint, scanAll, testClients, uniqueTableName } from "../support/dynamo.ts";

const clients = testClients();
const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const step of cleanup) await step();
});

/** A table keyed deviceId (S) / ts (N), as an events table is: not the example's PK/SK. */
async function eventsTable(): Promise<string> {
  const name = uniqueTableName("events");
  await ensureTable(
    clients.raw,
    {
      logicalName: "Events",
      partitionKey: { name: "deviceId", type: "S" },
      sortKey: { name: "ts", type: "N" },
      streamViewType: StreamViewType.NEW_AND_OLD_IMAGES,
    },
    name,
  );
  cleanup.push(() => dropTable(clients, name));
  return name;
}

describe("a table whose keys do not fit the migration", () => {
  it("is refused by add and convert before anything is written (exit 2, both schemas named)", async () => {
    const table = await eventsTable();
    await clients.doc.send(new PutCommand({ TableName: table, Item: { deviceId: "dev-1", ts: 1764000000001, SK: "WF#x" } }));
    const before = await scanAll(clients, table);
    for (const step of ["add", "convert"]) {
      // 0001 declares keys PK (S) / SK (S).
      const out = await ferryBin([step, "0001", "--table", table, "--endpoint", endpoint(), "--actor", "test"]);
      expect(out.code, `${step}: ${out.stderr}`).toBe(2);
      expect(out.stderr).toContain("declares keys PK (S, partition key) and SK (S, sort key)");
      expect(out.stderr).toContain(`table ${table} is keyed by deviceId (S, partition key) and ts (N, sort key)`);
      expect(out.stderr).toContain("Nothing was written");
      expect(out.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
    // Nothing written: no control table, the data table as it was.
    expect(await describeTable(clients.raw, `${table}.ferry`)).toBeUndefined();
    expect(await scanAll(clients, table)).toEqual(before);
  }, 120_000);
});

describe("ferry new --table", () => {
  it("scaffolds a migration in the table's key names and types, which loads as written", async () => {
    const table = await eventsTable();
    const dir = mkdtempSync(join(tmpdir(), "ferry-new-table-"));
    symlinkSync(join(import.meta.dirname, "../../node_modules"), join(dir, "node_modules"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));

    const out = await ferryBin(["new", "events by status", "--table", table, "--endpoint", endpoint(), "--migrations-dir", dir, "--json"]);
    expect(out.code, out.stderr).toBe(0);
    const { file } = JSON.parse(out.stdout) as { file: string };
    const text = readFileSync(file, "utf8");
    expect(text).toContain(`table: "${table}",`);
    expect(text).toContain('keys: { partitionKey: { name: "deviceId", type: "S" }, sortKey: { name: "ts", type: "N" } },');
    // The example derive keeps the numeric sort key and makes the partition its own.
    expect(text).toContain("deviceId: `${item.deviceId}#STATUS#${item.status}`,");
    expect(text).toContain("ts: item.ts,");
    const migration = await loadMigrationFile(file);
    expect(migration.keys).toEqual({ partitionKey: { name: "deviceId", type: "S" }, sortKey: { name: "ts", type: "N" } });

    const missing = await ferryBin(["new", "other", "--table", "no-such-table", "--endpoint", endpoint(), "--migrations-dir", dir]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("Table no-such-table does not exist");
  }, 120_000);
});
