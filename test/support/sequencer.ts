// Orders test files slowest first, so that with several workers no long file starts last and
// runs alone at the end. A clean clone (CI) has no duration cache, and vitest would then run
// the largest files first, which are not the slowest: there the known long poles come first.
import { relative } from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Seconds a file took (path under test/; a one-at-a-time run on 2 loaded cores, 2026-12-01), used
 * when vitest has no duration of its own for it. For the order only: a missing or stale figure
 * costs wall time, never a result.
 */
export const SLOW_FILES: Record<string, number> = {
  "integration/dynamodb-local.test.ts": 241,
  "integration/backfill-concurrency.test.ts": 234,
  "integration/lifecycle-remove-usage.test.ts": 215,
  "integration/verify.test.ts": 153,
  "integration/add-real-items.test.ts": 129,
  "integration/demo.test.ts": 121,
  "integration/cli-connection.test.ts": 104,
  "integration/never-ok-unreadable.test.ts": 89,
  "integration/backfill-cli.test.ts": 88,
  "integration/convert-cli.test.ts": 84,
  "stacks/app.test.ts": 83,
  "integration/lifecycle-unretire.test.ts": 79,
  "integration/backfill-run.test.ts": 74,
  "integration/backfill-limits.test.ts": 58,
  "integration/backfill-crash.test.ts": 57,
  "integration/lifecycle-guards.test.ts": 56,
  "integration/lifecycle-next-steps.test.ts": 53,
  "integration/cli-serve.test.ts": 48,
  "integration/status.test.ts": 47,
  "integration/lifecycle-rollback.test.ts": 42,
  "integration/cli-seed.test.ts": 39,
  "stacks/backfill.test.ts": 35,
};

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
