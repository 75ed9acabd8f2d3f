// What the dual-write does with one stream record: ignore, skip as unchanged, or put/delete; and which failures are poison.
import { ProvisionedThroughputExceededException } from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { DeriveError, InvalidDerivedRecordsError, type Migration, OWNER_ATTRIBUTE, SourceSchemaError, defineMigration, loadMigration } from "@ferry/core";
import { UnusableStreamRecordError, fromLambdaImage, isPoisonError, planStreamRecord } from "@ferry/core/dualwrite/plan";
import { failureKind } from "@ferry/core/dualwrite/failures";
import { dualWriteLag } from "@ferry/core/dualwrite/heartbeat";
import type { AttributeValue, DynamoDBRecord } from "aws-lambda";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";

let contexts: Migration;
beforeAll(async () => {
  contexts = await loadMigration("0001_workflow-context-index");
});

const image = (item: Record<string, unknown>) => marshall(item) as Record<string, AttributeValue>;

function record(eventName: "INSERT" | "MODIFY" | "REMOVE", images: { old?: Record<string, unknown>; new?: Record<string, unknown> }): DynamoDBRecord {
  const item = (images.new ?? images.old) as Record<string, unknown>;
  return {
    eventName,
    dynamodb: {
      Keys: image({ PK: item.PK, SK: item.SK }),
      SequenceNumber: "4000000000000000000100",
      ApproximateCreationDateTime: 1795408980,
      StreamViewType: "NEW_AND_OLD_IMAGES",
      ...(images.new ? { NewImage: image(images.new) } : {}),
      ...(images.old ? { OldImage: image(images.old) } : {}),
    },
  };
}

const wf = (ids: string[], extra: Record<string, unknown> = {}) => ({
  PK: "t-1",
  SK: "WF#w-1",
  name: "W",
  contexts: ids.map((id) => ({ id, name: id.toUpperCase() })),
  ...extra,
});
const sks = (records: Record<string, unknown>[]) => records.map((r) => String(r.SK)).sort();

describe("planStreamRecord", () => {
  it("puts every record of an inserted item and deletes nothing", () => {
    const plan = planStreamRecord(contexts, record("INSERT", { new: wf(["a", "b"]) }));
    expect(plan.kind === "apply" && [sks(plan.puts), plan.deletes]).toEqual([["CTX#a#WF#w-1", "CTX#b#WF#w-1"], []]);
  });

  it("puts the new records and deletes only those the old image owned and the new one does not", () => {
    const plan = planStreamRecord(contexts, record("MODIFY", { old: wf(["a", "b"]), new: wf(["b", "c"]) }));
    expect(plan.kind === "apply" && [sks(plan.puts), plan.deletes]).toEqual([["CTX#b#WF#w-1", "CTX#c#WF#w-1"], [{ PK: "t-1", SK: "CTX#a#WF#w-1" }]]);
  });

  it("deletes every record of a removed item", () => {
    const plan = planStreamRecord(contexts, record("REMOVE", { old: wf(["a", "b"]) }));
    expect(plan.kind === "apply" && [plan.puts, sks(plan.deletes)]).toEqual([[], ["CTX#a#WF#w-1", "CTX#b#WF#w-1"]]);
  });

  it("skips a MODIFY whose schema projection is unchanged, but not one whose projection changed with the same records", () => {
    expect(planStreamRecord(contexts, record("MODIFY", { old: wf(["a"]), new: wf(["a"], { name: "renamed", description: "x" }) })).kind).toBe("unchanged");
    // Context names are not in the 0001 schema (it reads contexts[].id only).
    expect(planStreamRecord(contexts, record("MODIFY", { old: wf(["a"]), new: { ...wf(["a"]), contexts: [{ id: "a", name: "new name" }] } })).kind).toBe(
      "unchanged",
    );
    const reordered = planStreamRecord(contexts, record("MODIFY", { old: wf(["a", "b"]), new: wf(["b", "a"]) }));
    expect(reordered.kind === "apply" && [sks(reordered.puts), reordered.deletes]).toEqual([["CTX#a#WF#w-1", "CTX#b#WF#w-1"], []]);
  });

  it("ignores records that are not source items without parsing them", () => {
    const broken = { contexts: "not a list" };
    expect(planStreamRecord(contexts, record("INSERT", { new: { PK: "t-1", SK: "TENANT#profile", ...broken } })).kind).toBe("ignored");
    expect(
      planStreamRecord(contexts, record("MODIFY", { old: { PK: "t-1", SK: "WF#w-1#TASK#x" }, new: { PK: "t-1", SK: "WF#w-1#TASK#x", ...broken } })).kind,
    ).toBe("ignored");
    const stamped = { PK: "t-1", SK: "WF#w-9", [OWNER_ATTRIBUTE]: { migration: "0009_other", owner: { PK: "t-1", SK: "X" } }, ...broken };
    expect(planStreamRecord(contexts, record("INSERT", { new: stamped })).kind).toBe("ignored");
  });

  it("throws a poison error for a new image that fails the schema", () => {
    const bad = { ...wf([]), contexts: [{ name: "no id" }] };
    expect(() => planStreamRecord(contexts, record("INSERT", { new: bad }))).toThrow(SourceSchemaError);
    expect(() => planStreamRecord(contexts, record("MODIFY", { old: wf(["a"]), new: bad }))).toThrow(SourceSchemaError);
  });

  it("treats an old image that fails the schema as owning nothing", () => {
    const plan = planStreamRecord(contexts, record("MODIFY", { old: { ...wf([]), contexts: "broken" }, new: wf(["a"]) }));
    expect(plan.kind === "apply" && [sks(plan.puts), plan.deletes, plan.invalidOldImage?.name]).toEqual([["CTX#a#WF#w-1"], [], "SourceSchemaError"]);
  });

  it("throws poison errors when derive throws or returns invalid records", () => {
    const base = {
      description: "test",
      table: "Workflows",
      keys: { partitionKey: { name: "PK", type: "S" as const }, sortKey: { name: "SK", type: "S" as const } },
      source: { skPrefix: "WF#", skPattern: /^WF#[^#]+$/ },
      schema: z.object({ n: z.number() }),
    };
    const throwing = defineMigration({
      ...base,
      id: "0099_throws",
      derive: () => {
        throw new Error("boom");
      },
    });
    const colliding = defineMigration({ ...base, id: "0098_collides", derive: (item) => [{ PK: item.PK, SK: "WF#other" }] });
    const item = { PK: "t-1", SK: "WF#w-1", n: 1 };
    expect(() => planStreamRecord(throwing, record("INSERT", { new: item }))).toThrow(DeriveError);
    expect(() => planStreamRecord(colliding, record("INSERT", { new: item }))).toThrow(InvalidDerivedRecordsError);
  });

  it("refuses records without the images it needs (a stream that is not NEW_AND_OLD_IMAGES)", () => {
    const keysOnly = record("MODIFY", { new: wf(["a"]) });
    expect(() => planStreamRecord(contexts, keysOnly)).toThrow(UnusableStreamRecordError);
    expect(() => planStreamRecord(contexts, { ...keysOnly, eventName: undefined })).toThrow(/NEW_AND_OLD_IMAGES/);
  });
});

describe("fromLambdaImage", () => {
  it("decodes binary values, which the Lambda event carries as base64 strings", () => {
    const event = {
      PK: { S: "t-1" },
      data: { B: Buffer.from("hi").toString("base64") },
      nested: { M: { set: { BS: [Buffer.from("x").toString("base64")] } } },
    };
    const item = fromLambdaImage(event as unknown as Record<string, AttributeValue>);
    expect(Buffer.from(item.data as Uint8Array).toString()).toBe("hi");
    expect([...(item.nested as { set: Set<Uint8Array> }).set].map((b) => Buffer.from(b).toString())).toEqual(["x"]);
  });
});

describe("failure kinds and lag", () => {
  it("calls content errors poison and everything else transient", () => {
    expect(isPoisonError(new SourceSchemaError("m", { PK: "a", SK: "b" }, ["x"]))).toBe(true);
    expect(failureKind(new UnusableStreamRecordError("1", "no image"))).toBe("poison");
    expect(failureKind(new ProvisionedThroughputExceededException({ message: "slow down", $metadata: {} }))).toBe("transient");
    expect(failureKind(new Error("socket hang up"))).toBe("transient");
  });

  it("measures lag from the newest creation time to when it was applied, never negative", () => {
    expect(dualWriteLag({ newestCreatedAt: 1_000, appliedAt: 3_500 }, 10_000)).toEqual({ lagMs: 2_500, sinceAppliedMs: 6_500 });
    // Clock skew (or whole-second creation times) can put creation after application.
    expect(dualWriteLag({ newestCreatedAt: 4_000, appliedAt: 3_500 }, 3_000)).toEqual({ lagMs: 0, sinceAppliedMs: 0 });
  });
});

describe("the remove step's cleanup on the stream", () => {
  const task = (id: string) => ({ id, name: id, status: "TO_DO", assignees: [] });
  const withTasks = { PK: "t-1", SK: "WF#w-9", name: "W", tasks: [task("a"), task("b")] };

  it("skips a MODIFY that only drops the cleanup attributes: the application now owns the child records", async () => {
    const split = await loadMigration("0002_split-workflow-tasks");
    const { tasks: _dropped, ...cleaned } = withTasks;
    expect(planStreamRecord(split, record("MODIFY", { old: withTasks, new: cleaned })).kind).toBe("unchanged");
  });

  it("still applies a MODIFY that drops the attribute and changes something else", async () => {
    const split = await loadMigration("0002_split-workflow-tasks");
    const { tasks: _dropped, ...cleaned } = withTasks;
    const plan = planStreamRecord(split, record("MODIFY", { old: withTasks, new: { ...cleaned, name: "renamed" } }));
    expect(plan.kind === "apply" && sks(plan.deletes)).toEqual(["WF#w-9#TASK#a", "WF#w-9#TASK#b"]);
  });
});

describe("the table kind's cleanup REMOVE (deleteSourceItems)", () => {
  const removal = (old: Record<string, unknown>): DynamoDBRecord => ({
    eventName: "REMOVE",
    dynamodb: { Keys: image({ pk: old.pk, sk: old.sk }), SequenceNumber: "4000000000000000000200", StreamViewType: "NEW_AND_OLD_IMAGES", OldImage: image(old) },
  });
  const item = { pk: "SHOP#1", sk: "ITEM#8", seq: 8, category: "gifts", score: 11, label: "l" };
  const names = Object.keys(item).sort();
  const load = async () => {
    process.env.FERRY_TARGET_TABLE = "target";
    try {
      return await loadMigration("0002", `${import.meta.dirname}/../fixtures/migrations-kind-table`);
    } finally {
      delete process.env.FERRY_TARGET_TABLE;
    }
  };

  it("skips the delete and keeps nothing when the item held exactly the attributes its backup line names", async () => {
    const moved = await load();
    const plan = planStreamRecord(moved, removal({ ...item, ferryCleanup: { migration: moved.id, nonce: "n-1", names } }));
    expect(plan).toEqual({ kind: "unchanged", key: { pk: "SHOP#1", sk: "ITEM#8" } });
  });

  it("keeps the whole deleted image (without the mark) when the item gained an attribute after its backup line", async () => {
    const moved = await load();
    const plan = planStreamRecord(moved, removal({ ...item, addedLater: "late", ferryCleanup: { migration: moved.id, nonce: "n-2", names } }));
    expect(plan).toEqual({
      kind: "unchanged",
      key: { pk: "SHOP#1", sk: "ITEM#8" },
      deletedImage: { nonce: "n-2", item: marshall({ ...item, addedLater: "late" }) },
    });
  });

  it("keeps the image of a mark without names (an older sweep's), and treats another migration's mark as an application delete", async () => {
    const moved = await load();
    const older = planStreamRecord(moved, removal({ ...item, ferryCleanup: { migration: moved.id, nonce: "n-3" } }));
    expect(older.kind === "unchanged" && older.deletedImage?.nonce).toBe("n-3");
    expect(planStreamRecord(moved, removal({ ...item, ferryCleanup: { migration: "other", nonce: "n-4", names } })).kind).toBe("apply");
  });
});
