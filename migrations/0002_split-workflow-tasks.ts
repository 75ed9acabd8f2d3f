/**
 * Seed 000's 10x growth came from embedding every task in its workflow item. This moves
 * each task into its own child record `SK = WF#<workflowId>#TASK#<taskId>` (so v2 can
 * Query `begins_with(SK, "WF#<id>#TASK#")`), and at the remove step deletes the embedded
 * `tasks` array from the workflow items.
 */
import { defineMigration } from "@ferry/core";
import { workflowCheckItems } from "@ferry/example-workflows/check-cases";
import { z } from "zod";

const Task = z.object({
  id: z.string().min(1),
  name: z.string(),
  status: z.string(),
  started_at: z.string().optional(),
  completed_at: z.string().optional(),
  assignees: z.array(z.string()).default([]),
  dueDate: z.string().optional(),
  notes: z.string().optional(),
});

export default defineMigration({
  id: "0002_split-workflow-tasks",
  description: "Move embedded tasks into child records WF#<workflowId>#TASK#<taskId>",
  table: "Workflows",
  keys: { partitionKey: { name: "PK", type: "S" }, sortKey: { name: "SK", type: "S" } },
  // Workflow items only; the child records this migration writes also start with WF#.
  source: { skPrefix: "WF#", skPattern: /^WF#[^#]+$/ },
  schema: z.object({ tasks: z.array(Task).default([]) }),
  derive: (wf) => {
    const byId = new Map(wf.tasks.map((task, position) => [task.id, { task, position }]));
    return [...byId.values()].map(({ task, position }) => ({
      ...task,
      PK: wf.PK,
      SK: `${wf.SK}#TASK#${task.id}`,
      workflow: wf.SK,
      position,
    }));
  },
  cleanup: { removeAttributes: ["tasks"] },
  options: { segments: 4, pageSize: 50 },
  // The example model's edge cases (no tasks, many, large items) for `ferry check`.
  checkItems: workflowCheckItems,
});
