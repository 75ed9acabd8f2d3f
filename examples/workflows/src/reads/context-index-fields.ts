/**
 * A variant of migrations/0001 whose index records carry the fields the list answers with
 * (WORKFLOW_SUMMARY_ATTRIBUTES), so v2 "workflows by context" is one narrow Query
 * (`listing: "index-fields"` in ./v2.ts). Same source as 0001, its own key range
 * (`CTXF#<contextId>#WF#<id>`) so both designs can live in one table side by side; the schema
 * covers every copied field, so the dual-write rewrites a workflow's index records whenever
 * one of them changes. Not the shipped default: bench/by-context.ts measures both designs,
 * and what the wider records cost the dual-write.
 */
import { defineMigration } from "@ferry/core";
import { z } from "zod";

/** Sort-key prefix of this variant's records (0001's is `CTX#`). */
export const CONTEXT_FIELDS_PREFIX = "CTXF#";

export const contextIndexWithFields = defineMigration({
  id: "0101_workflow-context-index-fields",
  description: "Index workflows by context, carrying the listed fields: PK=<tenant>, SK=CTXF#<contextId>#WF#<workflowId>, wf, name, status, ...",
  table: "Workflows",
  // The example table's keys, as 0001 declares them.
  keys: { partitionKey: { name: "PK", type: "S" }, sortKey: { name: "SK", type: "S" } },
  source: { skPrefix: "WF#", skPattern: /^WF#[^#]+$/ },
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
    const { PK, SK, completed_at, description, ...fields } = wf;
    return [...new Set(wf.contexts.map((c) => c.id))].map((contextId) => ({
      PK,
      SK: `${CONTEXT_FIELDS_PREFIX}${contextId}#${SK}`,
      wf: SK,
      ...fields,
      ...(completed_at !== undefined ? { completed_at } : {}),
      ...(description !== undefined ? { description } : {}),
    }));
  },
  options: { segments: 4, pageSize: 100 },
});
