// Orders test files slowest first, so that with several workers no long file starts last and
// runs alone at the end. A clean clone (CI) has no duration cache, and vitest would then run
// the largest files first, which are not the slowest: there the known long poles come first.
import { relative } from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Seconds a file took in a full run on 2 cores (path under test/), used when vitest has no
 * duration of its own for it. For the order only: a missing or stale figure costs wall time, never a result.
 */
export const SLOW_FILES: Record<string, number> = {};

export default class SlowestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const weight = (spec: TestSpecification) => {
      const path = relative(this.ctx.config.root, spec.moduleId);
      const cached = this.ctx.cache.getFileTestResults(`${spec.project.name}:${path}`)?.duration;
      return cached ?? (SLOW_FILES[path.replace(/^test\//, "")] ?? 0) * 1000;
    };
    const base = await super.sort(files);
    // Stable, so files of equal weight keep vitest's own order.
    return base
      .map((spec, index) => ({ spec, index, weight: weight(spec) }))
      .sort((a, b) => b.weight - a.weight || a.index - b.index)
      .map(({ spec }) => spec);
  }
}
