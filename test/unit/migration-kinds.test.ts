// The spec's kind fields: each kind gets the fields it needs and refuses the others' by name,
// before any table is touched; every kind ferry names has a module behind the one interface.
import { InvalidMigrationError, defineMigration } from "@ferry/core";
import { KIND_NAMES } from "@ferry/core/kinds/kind";
import { kindOf } from "@ferry/core/kinds/registry";
import { describe, expect, it } from "vitest";
import { z } from "zod";

const base = {
  id: "0042_kinds",
  description: "a migration of each kind",
  table: "Things",
  source: { skPrefix: "T#" },
  schema: z.object({ status: z.string() }),
};

function issuesOf(spec: Record<string, unknown>): { path: string; message: string }[] {
  try {
    defineMigration({ ...base, derive: () => [], ...spec } as never);
  } catch (err) {
    if (err instanceof InvalidMigrationError) return err.issues;
    throw err;
  }
  return [];
}

describe("a migration's kind", () => {
  it("is records unless the file says otherwise, and each kind is served by its own module", () => {
    const migration = defineMigration({ ...base, derive: () => [] });
    expect(migration.kind).toBe("records");
    expect(kindOf(migration).name).toBe("records");
    for (const name of KIND_NAMES) expect(kindOf({ kind: name }).name).toBe(name);
  });

  it("refuses a field of another kind, naming the field and the kind that has it", () => {
    expect(issuesOf({ attributes: ["byStatus"] })).toEqual([{ path: "attributes", message: expect.stringContaining('only a migration of kind "attributes"') }]);
    expect(issuesOf({ index: "byStatus" })).toEqual([{ path: "index", message: expect.stringContaining('kind "attributes"') }]);
    expect(issuesOf({ kind: "attributes", attributes: ["s"], target: { table: "Copy" } })).toEqual([
      { path: "target", message: expect.stringContaining('only a migration of kind "table"') },
    ]);
    expect(issuesOf({ cleanup: { deleteSourceItems: true } })).toEqual([
      { path: "cleanup.deleteSourceItems", message: expect.stringContaining('kind "table"') },
    ]);
  });

  it("asks for what the kind needs: the owned attributes, the target table, something to clean up", () => {
    expect(issuesOf({ kind: "attributes" })).toEqual([{ path: "attributes", message: expect.stringContaining("list the attribute names") }]);
    expect(issuesOf({ kind: "table" })).toEqual([{ path: "target", message: expect.stringContaining("name the table the records go to") }]);
    expect(issuesOf({ cleanup: {} })).toEqual([{ path: "cleanup", message: expect.stringContaining("removeAttributes") }]);
    expect(issuesOf({ kind: "copy" })).toEqual([{ path: "kind", message: expect.stringContaining("records") }]);
  });
});
