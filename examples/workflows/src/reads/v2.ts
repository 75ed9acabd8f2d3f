/**
 * v2: the new data model the migrations derive. "Workflows by context" reads
 * `0001_workflow-context-index`'s records with `begins_with(SK, "CTX#<id>#")` (only the
 * matches, in workflow order) and fetches the workflows with BatchGetItem; a workflow's
 * tasks are `0002_split-workflow-tasks`' child records `WF#<id>#TASK#<task>`.
 */
import { GetCommand, QueryCommand, type DynamoDBDocumentClient, paginateQuery } from "@aws-sdk/lib-dynamodb";
import { workflowSk } from "../model/workflow.ts";
import { WORKFLOWS_TABLE } from "../table.ts";
import { type BatchGetOptions, batchGetInOrder, DEFAULT_BACKOFF } from "@ferry/core";
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

/** Sort-key prefix of the context index records of a context. */
export const contextIndexPrefix = (contextId: string) => `CTX#${contextId}#`;
/** Sort-key prefix of a workflow's task records. */
export const taskPrefix = (workflowId: string) => `${workflowSk(workflowId)}#TASK#`;

export interface V2Options {
  batchGet: Pick<BatchGetOptions, "backoff">;
}

export const DEFAULT_V2_OPTIONS: V2Options = { batchGet: { backoff: DEFAULT_BACKOFF } };

/** Attributes of a task record that are ferry's bookkeeping, not the task. */
const TASK_BOOKKEEPING = ["workflow", "position"] as const;

export function createV2Reader(doc: DynamoDBDocumentClient, tableName: string, options: Partial<V2Options> = {}): WorkflowReader {
  const o = { ...DEFAULT_V2_OPTIONS, ...options };

  return {
    version: "v2",

    async listByContext(request: ListByContextRequest): Promise<ListResult> {
      const stats = emptyStats();
      const refs: { PK: string; SK: string }[] = [];
      let start = request.start;
      let next: ListResult["next"];
      // Index records are tiny, so one page nearly always holds `limit` of them; loop anyway.
      do {
        const page = await doc.send(
          new QueryCommand({
            TableName: tableName,
            KeyConditionExpression: "PK = :tenant AND begins_with(SK, :prefix)",
            ProjectionExpression: "PK, SK, wf",
            ExpressionAttributeValues: { ":tenant": request.tenant, ":prefix": contextIndexPrefix(request.contextId) },
            ExclusiveStartKey: start,
            Limit: request.limit - refs.length,
            ReturnConsumedCapacity: "TOTAL",
          }),
        );
        stats.requests += 1;
        stats.itemsRead += page.ScannedCount ?? 0;
        stats.readUnits += page.ConsumedCapacity?.CapacityUnits ?? 0;
        for (const record of page.Items ?? []) {
          if (typeof record.wf === "string") refs.push({ PK: request.tenant, SK: record.wf });
        }
        start = page.LastEvaluatedKey as ListByContextRequest["start"];
        next = start;
      } while (start && refs.length < request.limit);

      const read = { consumedReadUnits: 0, consumedWriteUnits: 0 };
      const workflows = await batchGetInOrder(doc, tableName, WORKFLOWS_TABLE, refs, {
        backoff: o.batchGet.backoff,
        stats: read,
        attributes: [...WORKFLOW_SUMMARY_ATTRIBUTES],
        consistentRead: false,
      });
      stats.readUnits += read.consumedReadUnits;
      stats.requests += Math.ceil(refs.length / 100);
      stats.itemsRead += refs.length;
      // An index record whose workflow is gone is a delete the dual-write has not applied yet: skip it.
      const items: ApiItem[] = [];
      for (const workflow of workflows) if (workflow) items.push(present(workflowIdOfSk(workflow.SK), workflow));
      return { items, ...(next ? { next } : {}), stats };
    },

    async getWorkflow(tenant, workflowId) {
      const out = await doc.send(new GetCommand({ TableName: tableName, Key: { PK: tenant, SK: workflowSk(workflowId) } }));
      // The new model keeps tasks in their own records: the workflow answer does not embed them.
      return out.Item ? present(workflowId, out.Item, ["tasks"]) : undefined;
    },

    async listTasks(tenant, workflowId) {
      const parent = await doc.send(new GetCommand({ TableName: tableName, Key: { PK: tenant, SK: workflowSk(workflowId) }, ProjectionExpression: "PK" }));
      if (!parent.Item) return undefined;
      const records: Record<string, unknown>[] = [];
      const pages = paginateQuery(
        { client: doc },
        {
          TableName: tableName,
          KeyConditionExpression: "PK = :tenant AND begins_with(SK, :prefix)",
          ExpressionAttributeValues: { ":tenant": tenant, ":prefix": taskPrefix(workflowId) },
        },
      );
      for await (const page of pages) records.push(...(page.Items ?? []));
      // The embedded array's order is kept in `position`: answer in the order v1 does.
      records.sort((a, b) => Number(a.position ?? 0) - Number(b.position ?? 0));
      return records.map((record) => present(String(record.id), record, TASK_BOOKKEEPING));
    },
  };
}
