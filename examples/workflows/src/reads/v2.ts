/**
 * v2: the new data model the migrations derive. "Workflows by context" reads
 * `0001_workflow-context-index`'s records of the context (only the matches, in workflow
 * order) and fetches the workflows with BatchGetItem, or, with `listing: "index-fields"`,
 * answers from index records that carry the listed fields themselves (one Query; the bench's
 * variant of 0001 derives them). A workflow's tasks are `0002_split-workflow-tasks`' child
 * records `WF#<id>#TASK#<task>`.
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

/** Sort-key prefix of the context index records of a context (`indexPrefix`: 0001's `CTX#`). */
export const contextIndexPrefix = (contextId: string, indexPrefix = "CTX#") => `${indexPrefix}${contextId}#`;

/**
 * The key condition for "sort key starts with `prefix`" as a range: every key with the prefix
 * sorts between the prefix and the prefix with its last character raised by one (`#` -> `$`).
 * The same keys as `begins_with`, but DynamoDB Local answers a range from its index, where
 * `begins_with` costs time with the partition's size (bench: 2.5x on 40,000 items).
 */
export function prefixRange(prefix: string): { from: string; to: string } {
  const last = prefix.charCodeAt(prefix.length - 1);
  return { from: prefix, to: `${prefix.slice(0, -1)}${String.fromCharCode(last + 1)}` };
}
/** Sort-key prefix of a workflow's task records. */
export const taskPrefix = (workflowId: string) => `${workflowSk(workflowId)}#TASK#`;

export interface V2Options {
  batchGet: Pick<BatchGetOptions, "backoff">;
  /**
   * Where the list's fields come from: `batch-get` fetches the workflows the index names
   * (0001's records are keys only: seed 000's design); `index-fields` reads them from the index
   * records (a migration deriving records with WORKFLOW_SUMMARY_ATTRIBUTES: one Query, but the
   * dual-write rewrites the records on every change of those fields).
   */
  listing: "batch-get" | "index-fields";
  /** Sort-key prefix of the index records before the context id (0001's `CTX#`; the fields variant's `CTXF#`). */
  indexPrefix: string;
}

export const DEFAULT_V2_OPTIONS: V2Options = { batchGet: { backoff: DEFAULT_BACKOFF }, listing: "batch-get", indexPrefix: "CTX#" };

/** Attributes of a task record that are ferry's bookkeeping, not the task. */
const TASK_BOOKKEEPING = ["workflow", "position"] as const;

export function createV2Reader(doc: DynamoDBDocumentClient, tableName: string, options: Partial<V2Options> = {}): WorkflowReader {
  const o = { ...DEFAULT_V2_OPTIONS, ...options };
  const fieldNames = Object.fromEntries(WORKFLOW_SUMMARY_ATTRIBUTES.map((a, i) => [`#s${i}`, a]));
  const indexProjection =
    o.listing === "index-fields"
      ? { ProjectionExpression: ["SK", "wf", ...Object.keys(fieldNames)].join(", "), ExpressionAttributeNames: fieldNames }
      : { ProjectionExpression: "SK, wf" };

  return {
    version: "v2",

    async listByContext(request: ListByContextRequest): Promise<ListResult> {
      const stats = emptyStats();
      const records: Record<string, unknown>[] = [];
      const prefix = contextIndexPrefix(request.contextId, o.indexPrefix);
      const range = prefixRange(prefix);
      let start = request.start;
      let next: ListResult["next"];
      // Index records are small, so one page nearly always holds `limit` of them; loop anyway.
      do {
        const page = await doc.send(
          new QueryCommand({
            TableName: tableName,
            KeyConditionExpression: "PK = :tenant AND SK BETWEEN :from AND :to",
            ...indexProjection,
            ExpressionAttributeValues: { ":tenant": request.tenant, ":from": range.from, ":to": range.to },
            ExclusiveStartKey: start,
            Limit: request.limit - records.length,
            ReturnConsumedCapacity: "TOTAL",
          }),
        );
        stats.requests += 1;
        stats.itemsRead += page.ScannedCount ?? 0;
        stats.readUnits += page.ConsumedCapacity?.CapacityUnits ?? 0;
        // BETWEEN is inclusive: a key equal to the upper bound is not the prefix's (ids cannot hold "$"; checked anyway).
        for (const record of page.Items ?? []) if (typeof record.wf === "string" && String(record.SK).startsWith(prefix)) records.push(record);
        start = page.LastEvaluatedKey as ListByContextRequest["start"];
        next = start;
      } while (start && records.length < request.limit);

      if (o.listing === "index-fields") {
        const items = records.map((record) => present(workflowIdOfSk(record.wf), record, ["wf"]));
        return { items, ...(next ? { next } : {}), stats };
      }
      const refs = records.map((record) => ({ PK: request.tenant, SK: String(record.wf) }));

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
