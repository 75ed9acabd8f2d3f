// Orders test files slowest first, so that with several workers no long file starts last and
// runs alone at the end. A clean clone (CI) has no duration cache, and vitest would then run
// the largest files first, which are not the slowest: there the known long poles come first.
import { relative } from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Seconds a file took (path under test/; a clean-clone CI run, three files at once on 2 cores,
 * 2026-12-01, before the compiled CLI), used when vitest has no duration of its own for it. A file
 * not listed sorts last: list a new file that takes more than ~15 s. For the order only: a missing or stale figure
 * costs wall time, never a result.
 */
export const SLOW_FILES: Record<string, number> = {
  "integration/kind-table-lifecycle.test.ts": 300,
  "integration/kind-attributes-lifecycle.test.ts": 300,
  "integration/backfill-concurrency.test.ts": 210,
  "integration/verify.test.ts": 195,
  "integration/any-table-numeric-sort.test.ts": 133,
  "integration/any-table-single-table.test.ts": 124,
  "integration/any-table-pk-sk.test.ts": 123,
  "integration/lifecycle-remove-usage.test.ts": 105,
  "integration/cli-connection.test.ts": 88,
  "integration/add-real-items.test.ts": 75,
  "integration/dynamodb-local.test.ts": 67,
  "integration/backfill-run.test.ts": 66,
  "integration/demo.test.ts": 65,
  "integration/convert-cli.test.ts": 53,
  "integration/backfill-cli.test.ts": 51,
  "integration/lifecycle-unretire.test.ts": 47,
  "integration/lifecycle-rollback.test.ts": 39,
  "stacks/app.test.ts": 38,
  "integration/backfill-crash.test.ts": 36,
  "integration/status.test.ts": 32,
  "integration/backfill-interleavings.test.ts": 32,
  "integration/api-writes.test.ts": 27,
  "integration/api.test.ts": 25,
  "integration/cli-bad-input.test.ts": 25,
  "integration/never-ok-unreadable.test.ts": 24,
  "integration/backfill-stage.test.ts": 20,
  "integration/lifecycle-next-steps.test.ts": 19,
  "integration/cli-serve.test.ts": 19,
  "integration/convert-guards.test.ts": 19,
  "integration/api-ramp-pagination.test.ts": 19,
  "integration/any-keys-cli.test.ts": 19,
  "stacks/backfill.test.ts": 18,
  "integration/backfill-faults.test.ts": 17,
  "integration/backfill-limits.test.ts": 16,
  "integration/lifecycle-guards.test.ts": 16,
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
