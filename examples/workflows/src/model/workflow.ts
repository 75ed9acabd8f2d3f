/**
 * The example service's old data model (seed 000): one item per workflow, PK = tenant id,
 * SK = `WF#<workflowId>`, with its contexts and its (10x grown) embedded tasks.
 */
import { z } from "zod";

export const WORKFLOW_SK_PREFIX = "WF#";

export const WorkflowStatus = z.enum(["TO_DO", "IN_PROGRESS", "COMPLETED", "CANCELLED"]);

export const WorkflowContext = z.object({ id: z.string().min(1), name: z.string() });
export type WorkflowContext = z.infer<typeof WorkflowContext>;

export const WorkflowTask = z.object({
  id: z.string().min(1),
  name: z.string(),
  status: WorkflowStatus,
  started_at: z.string(),
  completed_at: z.string().optional(),
  assignees: z.array(z.string()),
  dueDate: z.string(),
  notes: z.string().optional(),
});
export type WorkflowTask = z.infer<typeof WorkflowTask>;

export const WorkflowItem = z.object({
  PK: z.string().min(1),
  SK: z.string().startsWith(WORKFLOW_SK_PREFIX),
  name: z.string(),
  status: WorkflowStatus,
  started_at: z.string(),
  completed_at: z.string().optional(),
  assignees: z.array(z.string()),
  contexts: z.array(WorkflowContext),
  tasks: z.array(WorkflowTask),
  description: z.string().optional(),
});
export type WorkflowItem = z.infer<typeof WorkflowItem>;

export function workflowSk(workflowId: string): string {
  return `${WORKFLOW_SK_PREFIX}${workflowId}`;
}

/** The workflow id of a `WF#<id>` sort key. */
export function workflowIdOf(sk: string): string {
  return sk.slice(WORKFLOW_SK_PREFIX.length);
}
