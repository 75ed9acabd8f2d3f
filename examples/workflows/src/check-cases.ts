/**
 * The generated workflows `ferry check` runs derive on before touching real data: the seed
 * generator with knobs chosen to reach the edges (no contexts, no tasks, many of each, shared
 * contexts, items near the size limit). The example's migrations hand them to the engine as
 * their `checkItems`.
 */
import type { SeedOptions } from "./seed/generator.ts";
import { generateWorkflows } from "./seed/generator.ts";

export interface GeneratedCase {
  label: string;
  options: Partial<SeedOptions>;
}

/** Each case has its own seed, so no two cases produce the same item. */
export const GENERATED_CASES: readonly GeneratedCase[] = [
  { label: "typical", options: { tenants: 3, workflows: 40, contexts: 2, pool: 30, tasks: 5, itemKb: 2, seed: 101 } },
  { label: "no contexts", options: { tenants: 1, workflows: 10, contexts: 0, tasks: 3, itemKb: 1, seed: 102 } },
  { label: "no tasks", options: { tenants: 1, workflows: 10, contexts: 2, pool: 10, tasks: 0, itemKb: 1, seed: 103 } },
  { label: "many contexts", options: { tenants: 1, workflows: 5, contexts: 100, pool: 100, tasks: 2, itemKb: 8, seed: 104 } },
  { label: "many tasks", options: { tenants: 1, workflows: 5, contexts: 1, pool: 5, tasks: 80, itemKb: 40, seed: 105 } },
  // Every workflow in the same three contexts: keys that omit the workflow id collide here.
  { label: "shared contexts", options: { tenants: 1, workflows: 30, contexts: 3, pool: 3, tasks: 1, itemKb: 1, seed: 106 } },
  { label: "large items", options: { tenants: 1, workflows: 3, contexts: 2, pool: 3, tasks: 4, itemKb: 350, seed: 107 } },
];

/** Every item of every case, tagged with its case label. */
export function* generatedCheckItems(cases: readonly GeneratedCase[] = GENERATED_CASES): Generator<{ label: string; item: Record<string, unknown> }> {
  for (const c of cases) {
    for (const item of generateWorkflows(c.options)) yield { label: c.label, item: item as unknown as Record<string, unknown> };
  }
}

/** Every generated item, untagged: a migration's `checkItems`. */
export function workflowCheckItems(): Record<string, unknown>[] {
  return [...generatedCheckItems()].map((g) => g.item);
}
