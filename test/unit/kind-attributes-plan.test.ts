// The attributes kind's pure rules: what derive may return, which spec overlaps are refused,
// what one stream record means (set, remove, unchanged: ferry's own update coming back, the
// remove step's cleanup, a REMOVE), and how a dual-write window folds changes of one item.
import { marshall } from "@aws-sdk/util-dynamodb";
import { type Migration, defineMigration } from "@ferry/core";
import { isPoisonError } from "@ferry/core/dualwrite/plan";
import { attributesKind } from "@ferry/core/kinds/attributes";
import { AttributesWindow } from "@ferry/core/kinds/attributes/apply";
import { InvalidDerivedAttributesError, attributesSpecIssues, deriveAttributes } from "@ferry/core/kinds/attributes/derive";
import { planAttributesRecord } from "@ferry/core/kinds/attributes/plan";
import type { AttributeValue, DynamoDBRecord } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { z } from "zod";

const keys = { partitionKey: { name: "id", type: "N" as const } };
const base = {
  id: "0001_orders-by-status-gsi",
  description: "byStatus keys in place",
  table: "Orders",
  kind: "attributes" as const,
  attributes: ["gsi1pk", "gsi1sk"],
  keys,
  source: { match: (item: Record<string, unknown>) => item.type === "order" },
  schema: z.object({ tenant: z.string(), status: z.string(), placedAt: z.number() }),
};
const migration: Migration = defineMigration({
  ...base,
  cleanup: { removeAttributes: ["legacyStatus"] },
  derive: (o) => (o.status === "draft" ? {} : { gsi1pk: `${o.tenant}#${o.status}`, gsi1sk: o.placedAt }),
});
const order = (extra: Record<string, unknown> = {}) => ({ id: 7, type: "order", tenant: "t1", status: "open", placedAt: 100, ...extra });
const image = (item: Record<string, unknown>) => marshall(item) as Record<string, AttributeValue>;
const record = (eventName: "INSERT" | "MODIFY" | "REMOVE", old?: Record<string, unknown>, next?: Record<string, unknown>): DynamoDBRecord => ({
  eventName,
  dynamodb: {
    Keys: image({ id: (next ?? old)?.id }),
    SequenceNumber: "100",
    StreamViewType: "NEW_AND_OLD_IMAGES",
    ...(next ? { NewImage: image(next) } : {}),
    ...(old ? { OldImage: image(old) } : {}),
  },
});

describe("deriveAttributes", () => {
  it("returns the owned attributes derive sets; a missing or undefined one is not set", () => {
    expect(deriveAttributes(migration, order())).toEqual({ gsi1pk: "t1#open", gsi1sk: 100 });
    expect(deriveAttributes(migration, order({ status: "draft" }))).toEqual({});
    const partly = defineMigration({ ...base, derive: () => ({ gsi1pk: "x", gsi1sk: undefined }) });
    expect(deriveAttributes(partly, order())).toEqual({ gsi1pk: "x" });
  });

  it("refuses what cannot be set, naming the item and the attribute (a poison error)", () => {
    const bad = (derive: (o: never) => unknown) => () => deriveAttributes(defineMigration({ ...base, derive: derive as never }), order());
    expect(bad(() => [{ gsi1pk: "x" }])).toThrow(/returned invalid attributes for id=7:\n {2}- expected an object of attributes \(gsi1pk, gsi1sk\), got an array/);
    expect(bad(() => ({ status2: "x" }))).toThrow(/attribute "status2" is not one of the file's attributes/);
    expect(bad(() => ({ gsi1pk: () => 1 }))).toThrow(/attribute "gsi1pk" is a function/);
    expect(bad(() => ({ gsi1sk: Number.NaN }))).toThrow(/attribute "gsi1sk" is NaN/);
    try {
      bad(() => ({ nope: 1 }))();
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidDerivedAttributesError);
      expect(isPoisonError(err)).toBe(true);
    }
  });

  it("checks the index key types when the index is known", () => {
    const indexKeys = [
      { name: "gsi1pk", type: "S" as const },
      { name: "gsi1sk", type: "N" as const },
    ];
    const wrong = defineMigration({ ...base, index: "byStatus", derive: (o) => ({ gsi1pk: o.tenant, gsi1sk: String(o.placedAt) }) });
    expect(() => deriveAttributes(wrong, order(), { indexKeys })).toThrow(/attribute "gsi1sk" feeds the index byStatus: must be a number \(the table's type N\), got the string "100"/);
    const empty = defineMigration({ ...base, index: "byStatus", derive: () => ({ gsi1pk: "" }) });
    expect(() => deriveAttributes(empty, order(), { indexKeys })).toThrow(/feeds the index byStatus: must be a non-empty string/);
  });
});

describe("attributesSpecIssues", () => {
  it("refuses owned names that are the schema's fields, keys, cleanup attributes or ferry's stamp", () => {
    const spec = defineMigration({
      ...base,
      attributes: ["status", "id", "legacy", "ferry", "gsi1pk", "gsi1pk"],
      cleanup: { removeAttributes: ["legacy"] },
      derive: () => ({}),
    });
    expect(attributesSpecIssues(spec).map((i) => `${i.path}: ${i.message}`)).toEqual([
      'attributes.0: "status" is also a field of the schema: derive must not read an attribute it sets (rename one of them)',
      'attributes.1: "id" is a key attribute of the table: ferry cannot set it in place',
      'attributes.2: "legacy" is also in cleanup.removeAttributes: the remove step would drop what ferry set',
      `attributes.3: "ferry" is reserved for ferry's owner stamp`,
      'attributes.5: "gsi1pk" is listed twice',
    ]);
    expect(attributesSpecIssues(migration)).toEqual([]);
  });
});

describe("planAttributesRecord", () => {
  const set = { gsi1pk: "t1#open", gsi1sk: 100 };

  it("INSERT of an order: one update setting derive(NewImage), conditional on that image", () => {
    expect(planAttributesRecord(migration, record("INSERT", undefined, order()))).toEqual({
      kind: "apply",
      key: { id: 7 },
      puts: [],
      deletes: [],
      attributes: { image: order(), set },
    });
  });

  it("ferry's own update coming back through the stream is unchanged: no write, so no loop", () => {
    expect(planAttributesRecord(migration, record("MODIFY", order(), order(set)))).toEqual({ kind: "unchanged", key: { id: 7 } });
  });

  it("a change of what derive reads sets the new values; one that drops ferry's attributes (a whole-item put) sets them again", () => {
    const moved = planAttributesRecord(migration, record("MODIFY", order(set), order({ ...set, status: "paid" })));
    expect(moved).toMatchObject({ kind: "apply", attributes: { set: { gsi1pk: "t1#paid", gsi1sk: 100 } } });
    expect(planAttributesRecord(migration, record("MODIFY", order(set), order({ note: "x" })))).toMatchObject({ kind: "apply", attributes: { set } });
  });

  it("an order becoming a draft, or no longer an order, loses the attributes", () => {
    expect(planAttributesRecord(migration, record("MODIFY", order(set), order({ ...set, status: "draft" })))).toMatchObject({ kind: "apply", attributes: { set: {} } });
    expect(planAttributesRecord(migration, record("MODIFY", order(set), order({ ...set, type: "quote" })))).toMatchObject({ kind: "apply", attributes: { set: {} } });
  });

  it("REMOVE, other entities and the remove step's cleanup are nothing to do", () => {
    expect(planAttributesRecord(migration, record("REMOVE", order(set)))).toEqual({ kind: "unchanged", key: { id: 7 } });
    expect(planAttributesRecord(migration, record("INSERT", undefined, { id: 8, type: "customer" }))).toMatchObject({ kind: "ignored" });
    // The cleanup dropping legacyStatus: derive(NewImage) is unchanged anyway, and the change is the cleanup's.
    expect(planAttributesRecord(migration, record("MODIFY", order({ legacyStatus: "o" }), order()))).toEqual({ kind: "unchanged", key: { id: 7 } });
  });

  it("a new image derive refuses is a poison error", () => {
    const broken = order({ placedAt: "soon" });
    expect(() => planAttributesRecord(migration, record("INSERT", undefined, broken))).toThrow(/does not match the schema/);
  });
});

describe("AttributesWindow", () => {
  it("holds distinct items; a later change of an item in the window replaces its plan", () => {
    const window = new AttributesWindow<number>(keys);
    const plan = (status: string, id = 7) => planAttributesRecord(migration, record("INSERT", undefined, order({ id, status }))) as never;
    window.add(plan("open"), 0);
    expect(window.fits(plan("open", 8))).toBe(true);
    expect(window.fits(plan("paid"))).toBe(false);
    expect(window.merge(plan("paid"))).toBe(true);
    expect(window.merge(plan("open", 9))).toBe(false);
    expect(window.size).toBe(1);
    expect(window.coalesced).toBe(true);
    expect(window.entries[0]?.plan.attributes?.set).toEqual({ gsi1pk: "t1#paid", gsi1sk: 100 });
  });
});

describe("summarize (check and plan)", () => {
  it("charges one in-place write on the whole item after the update", () => {
    const summary = attributesKind.summarize(migration, order({ note: "x".repeat(2_000) }));
    expect(summary).toMatchObject({ writes: 1, keyIds: [], inPlace: true });
    expect(summary.writeBytes[0]).toBeGreaterThan(2_000);
  });
});
