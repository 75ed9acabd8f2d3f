/**
 * A copy of the workflows into their own table keyed for "workflows by context":
 * `WorkflowsByContext`, PK = <tenant>#<contextId>, SK = WF#<workflowId>, one record per
 * (workflow, context) carrying the fields the list answers with. v2 answers with one Query on
 * that table, v1 as today (the tenant's partition with a FilterExpression on the contexts).
 *
 * Unlike 0001 (index records in the same table, then a BatchGet of the workflows), the list
 * needs no second read and the Workflows table's partitions are not touched by the listing.
 * The target table must exist before `ferry add`: the example declares it
 * (examples/workflows/src/table.ts WORKFLOWS_BY_CONTEXT_TABLE; the Storage stack deploys it).
 */
import { defineMigration } from "@ferry/core";
import { workflowCheckItems } from "@ferry/example-workflows/check-cases";
import { z } from "zod";

export default defineMigration({
  id: "0004_workflows-by-context-table",
  description: "Copy workflows into WorkflowsByContext: PK=<tenant>#<contextId>, SK=WF#<workflowId>, with the listed fields",
  table: "Workflows",
  keys: { partitionKey: { name: "PK", type: "S" }, sortKey: { name: "SK", type: "S" } },
  kind: "table",
  target: { table: "WorkflowsByContext", keys: { partitionKey: { name: "PK", type: "S" }, sortKey: { name: "SK", type: "S" } } },
  source: { skPrefix: "WF#", skPattern: /^WF#[^#]+$/ },
  // Every field the list answers with (WORKFLOW_SUMMARY_ATTRIBUTES), so a change of any of them is copied.
  schema: z.object({
    name: z.string(),
    status: z.string(),
    started_at: z.string(),
    completed_at: z.string().optional(),
    assignees: z.array(z.string()),
    // passthrough: the answer shows a context as stored, like v1's.
    contexts: z.array(z.object({ id: z.string().min(1) }).passthrough()),
    description: z.string().optional(),
  }),
  derive: (wf) => {
    // The schema's fields by name (never a spread of the item: derive must copy only what it reads).
    const fields = {
      name: wf.name,
      status: wf.status,
      started_at: wf.started_at,
      assignees: wf.assignees,
      contexts: wf.contexts,
      ...(wf.completed_at !== undefined ? { completed_at: wf.completed_at } : {}),
      ...(wf.description !== undefined ? { description: wf.description } : {}),
    };
    // A workflow listing the same context twice still owns one record for it.
    return [...new Set(wf.contexts.map((c) => c.id))].map((contextId) => ({ PK: `${wf.PK}#${contextId}`, SK: wf.SK, ...fields }));
  },
  options: { segments: 4, pageSize: 100 },
  checkItems: workflowCheckItems,
});
