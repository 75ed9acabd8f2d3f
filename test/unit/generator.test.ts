import { itemSize } from "@ferry/core";
import { DEFAULT_SEED_OPTIONS, type SeedOptions, WorkflowItem, generateWorkflows, validateSeedOptions } from "@ferry/example-workflows";
import { describe, expect, it } from "vitest";

const take = (o: Partial<SeedOptions>) => [...generateWorkflows(o)];

describe("seed generator", () => {
  it.each([1, 10, 100, 350])("makes items of the requested size (%i KB, within 2%%)", (kb) => {
    const items = take({ tenants: 1, workflows: 20, itemKb: kb, tasks: 5 });
    for (const item of items) {
      const size = itemSize(item);
      expect(Math.abs(size - kb * 1024) / (kb * 1024)).toBeLessThan(0.02);
      expect(size).toBeLessThanOrEqual(400 * 1024);
    }
  });

  it("pads the description when a workflow has no tasks", () => {
    const [item] = take({ tenants: 1, workflows: 1, itemKb: 8, tasks: 0 });
    expect(item?.tasks).toEqual([]);
    expect(Math.abs(itemSize(item!) - 8192)).toBeLessThan(100);
  });

  it("shares each context by exactly workflows x contexts / pool workflows", () => {
    const items = take({ tenants: 2, workflows: 400, contexts: 3, pool: 60 });
    for (const tenant of ["tenant-0001", "tenant-0002"]) {
      const counts = new Map<string, number>();
      for (const item of items.filter((i) => i.PK === tenant)) {
        const ids = item.contexts.map((c) => c.id);
        expect(new Set(ids).size).toBe(3); // distinct within a workflow
        for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      expect(counts.size).toBe(60);
      expect(new Set(counts.values())).toEqual(new Set([20]));
    }
  });

  it("is deterministic for a seed and differs across seeds", () => {
    const a = take({ tenants: 2, workflows: 50, seed: 1 });
    expect(take({ tenants: 2, workflows: 50, seed: 1 })).toEqual(a);
    expect(take({ tenants: 2, workflows: 50, seed: 2 })).not.toEqual(a);
  });

  it("produces valid workflow items with unique keys and the requested task count", () => {
    const items = take({ tenants: 3, workflows: 200, tasks: 7 });
    expect(items).toHaveLength(600);
    expect(new Set(items.map((i) => `${i.PK}|${i.SK}`)).size).toBe(600);
    for (const item of items) {
      expect(() => WorkflowItem.parse(item)).not.toThrow();
      expect(item.tasks).toHaveLength(7);
    }
  });

  it("rejects options out of range, naming each one", () => {
    const problems = validateSeedOptions({ ...DEFAULT_SEED_OPTIONS, itemKb: 500, contexts: 5, pool: 3, tenants: 0 });
    expect(problems.join("\n")).toMatch(/itemKb/);
    expect(problems.join("\n")).toMatch(/tenants/);
    expect(problems.join("\n")).toMatch(/contexts \(5\) cannot exceed pool \(3\)/);
  });
});
