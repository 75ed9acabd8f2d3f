/**
 * "Workflows by status" was a Query over the tenant's whole partition with a FilterExpression
 * on `status` (v1): DynamoDB reads every workflow of the tenant to return the few that match.
 * This sets two attributes on each workflow item itself, the keys of the `byStatus` global
 * secondary index, so v2 answers with one Query on the index:
 *   byStatusPk = <tenant>#<status>, byStatusSk = <started_at>#WF#<workflowId>.
 *
 * The workflow id after started_at makes every index key distinct: two workflows started in
 * the same millisecond would otherwise tie, and a tie has no defined order across pages.
 * The index must exist before `ferry add` (the example table declares it:
 * examples/workflows/src/table.ts; the Storage stack deploys it).
 */
import { defineMigration } from "@ferry/core";
import { workflowCheckItems } from "@ferry/example-workflows/check-cases";
import { z } from "zod";

export default defineMigration({
  id: "0003_workflow-status-index",
  description: "Feed the byStatus GSI in place: byStatusPk=<tenant>#<status>, byStatusSk=<started_at>#WF#<workflowId> on every workflow item",
  table: "Workflows",
  keys: { partitionKey: { name: "PK", type: "S" }, sortKey: { name: "SK", type: "S" } },
  kind: "attributes",
  // The attributes ferry owns on the workflow items: what derive returns and rollback removes.
  attributes: ["byStatusPk", "byStatusSk"],
  index: "byStatus",
  // Workflow items only, not 0002's task children or 0001's index records.
  source: { skPrefix: "WF#", skPattern: /^WF#[^#]+$/ },
  schema: z.object({ status: z.string().min(1), started_at: z.string().min(1) }),
  derive: (wf) => ({
    byStatusPk: `${wf.PK}#${wf.status}`,
    byStatusSk: `${wf.started_at}#${wf.SK}`,
  }),
  options: { segments: 4, pageSize: 100 },
  checkItems: workflowCheckItems,
});
