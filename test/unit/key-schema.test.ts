// The key schema: keys of any item in the table's names, their text and ids, binding a migration
// to a table, and check's rejections of records that do not fit the table's keys.
import { type KeySchema, defineMigration, keyId, keyOf, keyText, keySchemaOf, withTableKeys } from "@ferry/core";
import { checkMigration } from "@ferry/core/design/check";
import { keyValueProblem } from "@ferry/core/dynamo/key-schema";
import { describe, expect, it } from "vitest";
import { z } from "zod";

const ORDERS: KeySchema = { partitionKey: { name: "pk", type: "S" }, sortKey: { name: "sk", type: "S" } };
const EVENTS: KeySchema = { partitionKey: { name: "deviceId", type: "S" }, sortKey: { name: "ts", type: "N" } };
const THINGS: KeySchema = { partitionKey: { name: "id", type: "N" } };

describe("keys under the table's names", () => {
  it("takes only the key attributes, in schema order, and prints them with their names", () => {
    const item = { total: 3, sk: "ORDER#2", pk: "CUST#1" };
    expect(keyOf(ORDERS, item)).toEqual({ pk: "CUST#1", sk: "ORDER#2" });
    expect(Object.keys(keyOf(ORDERS, item))).toEqual(["pk", "sk"]);
    expect(keyText(keyOf(ORDERS, item))).toBe('pk="CUST#1" sk="ORDER#2"');
    expect(keyText(keyOf(EVENTS, { deviceId: "dev-1", ts: 1764000000001 }))).toBe('deviceId="dev-1" ts=1764000000001');
    expect(keyText({ id: new Uint8Array([1, 2]) })).toBe("id=b64:AQI=");
  });

  it("gives equal keys equal ids whatever else the items hold, and tells numbers from strings", () => {
    expect(keyId(EVENTS, { deviceId: "d", ts: 5, a: 1 })).toBe(keyId(EVENTS, { ts: 5, deviceId: "d" }));
    expect(keyId(THINGS, { id: 5 })).not.toBe(keyId(THINGS, { id: "5" }));
    expect(keyId(THINGS, { id: new Uint8Array([1]) })).toBe(keyId(THINGS, { id: new Uint8Array([1]) }));
  });

  it("names what is wrong with a key value", () => {
    expect(keyValueProblem(EVENTS.sortKey!, "12")).toBe('key attribute "ts" must be a number (the table\'s type N), got the string "12"');
    expect(keyValueProblem(ORDERS.sortKey!, undefined)).toBe('key attribute "sk" is missing');
    expect(keyValueProblem(ORDERS.partitionKey, "")).toBe('key attribute "pk" must be a non-empty string');
    expect(keyValueProblem({ name: "b", type: "B" }, "x")).toMatch(/must be binary/);
    expect(keyValueProblem(EVENTS.sortKey!, 12)).toBeUndefined();
  });

  it("reads a table description's key schema, simple or composite", () => {
    expect(
      keySchemaOf(
        {
          KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
          AttributeDefinitions: [{ AttributeName: "id", AttributeType: "N" }],
        },
        "Things",
      ),
    ).toEqual(THINGS);
    expect(
      keySchemaOf(
        {
          KeySchema: [
            { AttributeName: "ts", KeyType: "RANGE" },
            { AttributeName: "deviceId", KeyType: "HASH" },
          ],
          AttributeDefinitions: [
            { AttributeName: "deviceId", AttributeType: "S" },
            { AttributeName: "ts", AttributeType: "N" },
          ],
        },
        "Events",
      ),
    ).toEqual(EVENTS);
  });
});

const base = {
  id: "0007_orders-by-status",
  description: "orders by status",
  table: "Orders",
  source: { skPrefix: "ORDER#" },
  schema: z.object({ status: z.string() }),
};

describe("binding a migration to its table", () => {
  it("takes the table's keys when the file declares none, and refuses declared keys that differ, naming both", () => {
    const undeclared = defineMigration({ ...base, derive: () => [] });
    expect(withTableKeys(undeclared, ORDERS, "Orders").keys).toEqual(ORDERS);
    const declared = defineMigration({ ...base, keys: { partitionKey: { name: "pk", type: "S" }, sortKey: { name: "sk", type: "S" } }, derive: () => [] });
    expect(() => withTableKeys(declared, EVENTS, "Events")).toThrow(
      "Migration 0007_orders-by-status declares keys pk (S, partition key) and sk (S, sort key), but table Events is keyed by deviceId (S, partition key) and ts (N, sort key). Nothing was written.",
    );
  });

  it("refuses a prefix on a key the table does not have as a string", () => {
    const undeclared = defineMigration({ ...base, derive: () => [] });
    expect(() => withTableKeys(undeclared, THINGS, "Things")).toThrow(/selects source items with source.skPrefix \(the table has no sort key/);
    expect(() => withTableKeys(undeclared, EVENTS, "Events")).toThrow(/the sort key ts is of type N/);
  });

  it("says to declare keys or pass --table when a migration without keys is checked with no table", () => {
    const undeclared = defineMigration({ ...base, derive: () => [] });
    expect(() => checkMigration(undeclared, { generated: [] })).toThrow(/declares no `keys` and no table is at hand to read them from: pass --table/);
  });
});

describe("check on records in the table's keys", () => {
  const orders = [
    { pk: "CUST#1", sk: "ORDER#1", status: "open" },
    { pk: "CUST#1", sk: "ORDER#2", status: "shipped" },
  ];

  it("rejects a record without a key attribute, naming the record and the attribute", () => {
    const m = withTableKeys(defineMigration({ ...base, derive: (o) => [{ pk: `STATUS#${o.status}` }] }), ORDERS, "Orders");
    const report = checkMigration(m, { sampleItems: orders });
    expect(report.problems.invalidKeys.count).toBe(2);
    expect(report.problems.invalidKeys.examples[0]!.message).toBe('record 0 (pk="STATUS#open"): key attribute "sk" is missing');
  });

  it("rejects a string where the table's key is a number", () => {
    const items = [{ deviceId: "dev-1", ts: 1764000000001, _type: "Event", status: "up" }];
    const m = withTableKeys(
      defineMigration({ ...base, source: { match: (i) => i._type === "Event" }, derive: (e) => [{ deviceId: `TYPE#${e.status}`, ts: String(e.ts) }] }),
      EVENTS,
      "Events",
    );
    const report = checkMigration(m, { sampleItems: items });
    expect(report.problems.invalidKeys.examples[0]!.message).toBe(
      'record 0 (deviceId="TYPE#up" ts="1764000000001"): key attribute "ts" must be a number (the table\'s type N), got the string "1764000000001"',
    );
  });

  it("rejects a record on another source item's key, and one on another owner's record", () => {
    // Order 1 derives the key of order 2 (a source item the prefix selects; match keeps records out of the prefix test).
    const m = withTableKeys(
      defineMigration({
        ...base,
        source: { skPrefix: "ORDER#", match: (i) => typeof i.status === "string" && !("by" in i) },
        derive: (o) => [{ pk: o.pk, sk: o.sk === "ORDER#1" ? "ORDER#2" : `BY#${o.sk}`, by: "status" }],
      }),
      ORDERS,
      "Orders",
    );
    const taken = keyId(ORDERS, { pk: "CUST#1", sk: "BY#ORDER#2" });
    const report = checkMigration(m, { sampleItems: orders, otherKeys: new Map([[taken, "a record of migration 0003_other"]]) });
    expect(report.problems.sourceKeyCollision.examples.map((e) => e.message)).toEqual([
      'record pk="CUST#1" sk="ORDER#2" collides with the source item pk="CUST#1" sk="ORDER#2"',
    ]);
    expect(report.problems.existingItemCollision.examples.map((e) => e.message)).toEqual([
      'record pk="CUST#1" sk="BY#ORDER#2" would overwrite an item already in the table: a record of migration 0003_other',
    ]);
  });
});
