// The engine's root export is its public API: what a migration file needs, and nothing about the example.
import * as core from "@ferry/core";
import * as example from "@ferry/example-workflows";
import { describe, expect, it } from "vitest";

describe("@ferry/core's public surface", () => {
  it("gives a migration file defineMigration and the lifecycle to integrators", () => {
    for (const name of [
      "defineMigration",
      "loadMigration",
      "lifecycleContext",
      "addStep",
      "convertStep",
      "moveStep",
      "removeStep",
      "verifyMigration",
      "createDualWriter",
    ]) {
      expect(core, name).toHaveProperty(name);
    }
  });

  it("exports nothing about workflows: the example package does", () => {
    expect(Object.keys(core).filter((name) => /workflow/i.test(name))).toEqual([]);
    expect(example).toHaveProperty("WORKFLOWS_TABLE");
    expect(Object.keys(example).filter((name) => name in core)).toEqual([]);
  });
});
