/**
 * The seed-000 fix: "workflows by context" was a FilterExpression over the whole tenant
 * partition. This adds one index record per (context, workflow) so v2 can Query
 * `begins_with(SK, "CTX#<contextId>#")` and BatchGet the workflows.
 *
 * The workflow id is part of the key: seed 000's own `SK = CTX#<contextId>` collides when two
 * workflows share a context.
 */
import { defineMigration } from "@ferry/core";
import { workflowCheckItems } from "@ferry/example-workflows/check-cases";
import { z } from "zod";

export default defineMigration({
  id: "0001_workflow-context-index",
  description: "Index workflows by context: PK=<tenant>, SK=CTX#<contextId>#WF#<workflowId>, wf=WF#<workflowId>",
  table: "Workflows",
  // The example table's keys: derive below builds them, so say so (check and plan need no table then).
  keys: { partitionKey: { name: "PK", type: "S" }, sortKey: { name: "SK", type: "S" } },
  // Workflow items only: WF#<id>, not the WF#<id>#TASK#<taskId> children of 0002.
  source: { skPrefix: "WF#", skPattern: /^WF#[^#]+$/ },
  // Only what derive reads: the backfill re-checks exactly these fields before writing.
  schema: z.object({
    contexts: z.array(z.object({ id: z.string().min(1) })),
  }),
  derive: (wf) =>
    // A workflow listing the same context twice still owns one record for it.
    [...new Set(wf.contexts.map((c) => c.id))].map((contextId) => ({
      PK: wf.PK,
      SK: `CTX#${contextId}#${wf.SK}`,
      wf: wf.SK,
    })),
  options: { segments: 4, pageSize: 100 },
  // The example model's edge cases (no contexts, many, shared ones) for `ferry check`.
  checkItems: workflowCheckItems,
});
