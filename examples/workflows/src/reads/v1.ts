/**
 * v1: the old data model, as seed 000's service read it: "workflows by context" is a Query
 * on the tenant's whole partition with a FilterExpression on the embedded contexts. It is
 * slow by design (DynamoDB reads every workflow of the tenant, the filter only trims the
 * answer) but, unlike seed 001's bug, correct: it follows LastEvaluatedKey across pages until
 * it has `limit` matches or the partition ends, and resumes exactly after the last match it
 * returned.
 */
import { GetCommand, QueryCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { WORKFLOW_SK_PREFIX, workflowSk } from "../model/workflow.ts";
import {
  type ApiItem,
  type ListByContextRequest,
  type ListResult,
  WORKFLOW_SUMMARY_ATTRIBUTES,
  type WorkflowReader,
  emptyStats,
  present,
  workflowIdOfSk,
} from "./view.ts";

export interface V1Options {
  /**
   * Items DynamoDB evaluates per Query page. AWS stops a page at 1 MB; DynamoDB Local does
   * not (a probe read 20 MB in one filtered page), so pages are bounded explicitly too.
   */
  pageLimit: number;
  /** Context positions matched by the server-side filter; longer lists are checked here. */
  filterPositions: number;
}

export const DEFAULT_V1_OPTIONS: V1Options = { pageLimit: 100, filterPositions: 16 };

/** Only `WF#<id>` items are workflows (0002's `WF#<id>#TASK#<task>` children are not). */
const isWorkflowSk = (sk: unknown) => typeof sk === "string" && sk.startsWith(WORKFLOW_SK_PREFIX) && !sk.slice(WORKFLOW_SK_PREFIX.length).includes("#");

const hasContext = (item: Record<string, unknown>, contextId: string) =>
  Array.isArray(item.contexts) && item.contexts.some((c) => (c as { id?: unknown })?.id === contextId);

/**
 * The FilterExpression: DynamoDB cannot test "any list element's id", so it tests the first
 * positions and lets through lists longer than that, which are then checked in code.
 */
function contextFilter(positions: number) {
  const tests = Array.from({ length: positions }, (_, i) => `#contexts[${i}].#id = :context`);
  return `(${tests.join(" OR ")}) OR size(#contexts) > :positions`;
}

export function createV1Reader(doc: DynamoDBDocumentClient, tableName: string, options: Partial<V1Options> = {}): WorkflowReader {
  const o = { ...DEFAULT_V1_OPTIONS, ...options };
  const summaryNames = Object.fromEntries(WORKFLOW_SUMMARY_ATTRIBUTES.map((a, i) => [`#s${i}`, a]));
  const projection = ["PK", "SK", ...Object.keys(summaryNames)].join(", ");

  return {
    version: "v1",

    async listByContext(request: ListByContextRequest): Promise<ListResult> {
      const stats = emptyStats();
      const items: ApiItem[] = [];
      let start = request.start;
      while (true) {
        const page = await doc.send(
          new QueryCommand({
            TableName: tableName,
            KeyConditionExpression: "PK = :tenant AND begins_with(SK, :wf)",
            FilterExpression: contextFilter(o.filterPositions),
            ProjectionExpression: projection,
            ExpressionAttributeNames: { ...summaryNames, "#contexts": "contexts", "#id": "id" },
            ExpressionAttributeValues: { ":tenant": request.tenant, ":wf": WORKFLOW_SK_PREFIX, ":context": request.contextId, ":positions": o.filterPositions },
            ExclusiveStartKey: start,
            Limit: o.pageLimit,
            ReturnConsumedCapacity: "TOTAL",
          }),
        );
        stats.requests += 1;
        stats.itemsRead += page.ScannedCount ?? 0;
        stats.readUnits += page.ConsumedCapacity?.CapacityUnits ?? 0;
        const matches = (page.Items ?? []).filter((item) => isWorkflowSk(item.SK) && hasContext(item, request.contextId));
        const wanted = request.limit - items.length;
        if (matches.length > wanted) {
          // Stop mid-page: resume right after the last match returned, not after the page.
          const taken = matches.slice(0, wanted);
          for (const item of taken) items.push(present(workflowIdOfSk(item.SK), item));
          const last = taken[taken.length - 1] as Record<string, unknown>;
          return { items, next: { PK: String(last.PK), SK: String(last.SK) }, stats };
        }
        for (const item of matches) items.push(present(workflowIdOfSk(item.SK), item));
        start = page.LastEvaluatedKey as ListByContextRequest["start"];
        if (!start) return { items, stats };
        if (items.length === request.limit) return { items, next: start, stats };
      }
    },

    async getWorkflow(tenant, workflowId) {
      const out = await doc.send(new GetCommand({ TableName: tableName, Key: { PK: tenant, SK: workflowSk(workflowId) } }));
      return out.Item ? present(workflowId, out.Item) : undefined;
    },

    async listTasks(tenant, workflowId) {
      const out = await doc.send(new GetCommand({ TableName: tableName, Key: { PK: tenant, SK: workflowSk(workflowId) }, ProjectionExpression: "PK, tasks" }));
      if (!out.Item) return undefined;
      const tasks = Array.isArray(out.Item.tasks) ? (out.Item.tasks as Record<string, unknown>[]) : [];
      return tasks.map((task) => ({ ...task, id: String(task.id) }));
    },
  };
}
