/**
 * The backfill's Amazon States Language definition: one JSON file, loaded here for the
 * local interpreter and read by stacks/Backfill.ts for deployment (DefinitionSubstitutions
 * fill the task ARNs).
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const BACKFILL_ASL_PATH = join(dirname(fileURLToPath(import.meta.url)), "backfill.asl.json");

/** Task state name -> the substitution variable naming its Lambda ARN. */
export const BACKFILL_TASK_RESOURCES = {
  PlanSegments: "PlanSegmentsFunctionArn",
  Page: "BackfillPageFunctionArn",
  Finish: "FinishFunctionArn",
  ContinueAsNewExecution: "ContinueFunctionArn",
  RecordFailure: "RecordFailureFunctionArn",
} as const;

export type BackfillTaskName = keyof typeof BACKFILL_TASK_RESOURCES;

export function backfillDefinitionText(): string {
  return readFileSync(BACKFILL_ASL_PATH, "utf8");
}

/** The definition with `${Var}` placeholders replaced (what Step Functions runs after substitution). */
export function backfillDefinition(substitutions: Partial<Record<string, string>> = {}): Record<string, unknown> {
  const text = backfillDefinitionText().replace(/\$\{(\w+)\}/g, (_whole, name: string) => {
    // Local runs override every task by state name; any well-formed ARN satisfies validation.
    return substitutions[name] ?? `arn:aws:lambda:us-east-1:000000000000:function:ferry-local-${name}`;
  });
  return JSON.parse(text) as Record<string, unknown>;
}
