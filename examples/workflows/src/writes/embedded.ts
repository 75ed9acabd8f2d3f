/**
 * Task writes on the old model: the workflow item's embedded `tasks` array is the source of
 * truth while v1 is served (and, after remove retired v1, for items the cleanup has not
 * reached yet). Each write rewrites the array in one UpdateItem conditional on the revision
 * read and on `tasks` still being where it was; the dual-write then derives 0002's task
 * records from the stream, so v2 readers see the change after the dual-write's lag.
 */
import { type DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { MAX_ITEM_BYTES, itemSize, sameRecord } from "@ferry/core";
import type { WorkflowTask } from "../model/workflow.ts";
import { MAX_TASKS } from "./bodies.ts";
import { WorkflowLimitError } from "./errors.ts";
import { type Item, REVISION_ATTRIBUTE, explainRefusal, isConditionFailure, readWorkflow, revisionOf, tasksAttributeOf, unchangedSince } from "./revision.ts";

export interface TableRef {
  doc: DynamoDBDocumentClient;
  tableName: string;
}

export function embeddedTasks(item: Item): WorkflowTask[] {
  return Array.isArray(item.tasks) ? (item.tasks as WorkflowTask[]) : [];
}

/** The model's limits on a workflow item about to be written. */
export function checkLimits(workflowId: string, item: Item, taskCount: number): void {
  if (taskCount > MAX_TASKS) throw new WorkflowLimitError(workflowId, `a workflow holds at most ${MAX_TASKS} tasks`);
  const size = itemSize(item);
  if (size > MAX_ITEM_BYTES) throw new WorkflowLimitError(workflowId, `the item would be ${size} bytes, over DynamoDB's ${MAX_ITEM_BYTES}`);
}

/**
 * Replaces the embedded tasks of `item` (as read) with `change(tasks)`; returns the item as
 * written. A concurrent write, a deleted workflow or the cleanup in between refuses it.
 */
export async function rewriteEmbeddedTasks(
  table: TableRef,
  tenant: string,
  workflowId: string,
  item: Item,
  change: (tasks: WorkflowTask[]) => WorkflowTask[],
): Promise<Item> {
  const tasks = change(embeddedTasks(item));
  const revision = revisionOf(item);
  const next = { ...item, tasks, [REVISION_ATTRIBUTE]: revision + 1 };
  checkLimits(workflowId, next, tasks.length);
  const condition = unchangedSince(revision, tasksAttributeOf(item));
  try {
    const out = await table.doc.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: { PK: tenant, SK: item.SK },
        UpdateExpression: "SET #tasks = :tasks, #rev = :next",
        ConditionExpression: condition.expression,
        ExpressionAttributeNames: { ...condition.names, "#tasks": "tasks" },
        ExpressionAttributeValues: { ...condition.values, ":tasks": tasks, ":next": revision + 1 },
        ReturnValues: "ALL_NEW",
      }),
    );
    return out.Attributes ?? next;
  } catch (err) {
    // The SDK retries a write whose answer was lost; if the first attempt landed, the retry's
    // refusal is our own write: the item holds exactly these tasks at the next revision.
    if (isConditionFailure(err)) {
      const now = await readWorkflow(table.doc, table.tableName, tenant, workflowId);
      if (now && revisionOf(now) === revision + 1 && sameRecord({ tasks: now.tasks }, { tasks })) return now;
    }
    return explainRefusal(err, table.doc, table.tableName, tenant, workflowId, revision);
  }
}
