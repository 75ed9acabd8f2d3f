/**
 * Step 1, design: the plan is the migration file, checked by `ferry check` (derive on the
 * migration's `checkItems`, edge cases of its table). Starting the step records that the plan was
 * checked; nothing touches the table, so there is nothing to roll back. The same check is
 * the add step's guard ("add needs a valid plan").
 */
import type { DynamoClients } from "../../aws/dynamodb.ts";
import { CHECK_CATEGORIES, type CheckCategory, type CheckReport, checkMigration } from "../../design/check.ts";
import { DEFAULT_SAMPLE_SIZE, sampleTable } from "../../design/sample.ts";
import type { Migration } from "../../definition/define-migration.ts";
import { keyText } from "../../definition/derive.ts";
import { PlanInvalidError } from "../guards.ts";
import type { DesignRollback, Phase } from "../phase.ts";

/** The plan check the add guard runs: derive on the migration's check items. */
export function checkPlan(migration: Migration): CheckReport {
  return checkMigration(migration, { generated: migration.checkItems?.() ?? [] });
}

/**
 * The add guard's check: `ferry check --table` exactly, derive on the migration's check items and on
 * up to `sample` real items of the table, whose keys it must not overwrite. The generated
 * items alone cannot see the table: another migration's records, or real items derive throws on.
 */
export async function checkPlanOnTable(clients: DynamoClients, tableName: string, migration: Migration, sample = DEFAULT_SAMPLE_SIZE): Promise<CheckReport> {
  if (sample <= 0) return checkPlan(migration);
  const items = await sampleTable(clients, tableName, migration, { size: sample, target: true });
  return checkMigration(migration, {
    generated: migration.checkItems?.() ?? [],
    sampleItems: items.sources,
    otherKeys: items.otherKeys,
    ...(items.target?.otherKeys ? { targetKeys: items.target.otherKeys, targetTable: items.target.tableName } : {}),
  });
}

/** One line per failing category: its first offending item and what is wrong with it. */
export function planExamples(report: CheckReport): string[] {
  return (Object.keys(CHECK_CATEGORIES) as CheckCategory[]).flatMap((c) => {
    const first = report.problems[c].examples[0];
    return first ? [`${CHECK_CATEGORIES[c]}: ${first.origin} item ${keyText(first.key)}: ${first.message}`] : [];
  });
}

/** The check's problems as short phrases, for the guard's message. */
export function planProblems(report: CheckReport): string[] {
  return (Object.keys(CHECK_CATEGORIES) as CheckCategory[])
    .filter((c) => report.problems[c].count > 0)
    .map((c) => `${CHECK_CATEGORIES[c]}: ${report.problems[c].count}`);
}

export const designPhase: Phase<Record<string, never>, CheckReport> = {
  step: "design",
  async validate() {
    return [];
  },
  async start(ctx, _options, record) {
    const report = checkPlan(ctx.migration);
    if (!report.ok) throw new PlanInvalidError(ctx.migration.id, planProblems(report));
    await record();
    return report;
  },
  isComplete: (_ctx, report) => report.ok,
  async rollback(): Promise<DesignRollback> {
    return {};
  },
};
