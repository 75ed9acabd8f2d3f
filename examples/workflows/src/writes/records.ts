/**
 * Task writes on the new model: once remove has retired v1 and the cleanup dropped an item's
 * embedded `tasks`, its tasks live only in the `WF#<id>#TASK#<task>` records, which now
 * belong to the application. Every write is one transaction: the workflow item's revision
 * is bumped on the condition that it is still at the revision read and still has no `tasks`,
 * together with the task record's put or delete. So task writes of one workflow are
 * serialized by its revision exactly as on the old model, and a deleted workflow takes all
 * its task records with it or refuses.
 *
 * The records are written without ferry's owner stamp (and an update drops it): after the
 * cleanup no source item derives them, so the stamp would let verify's repair or a later
 * rollback delete data that exists nowhere else. Unstamped, they are the application's, which
 * every ferry write is conditional against.
 */
import { randomUUID } from "node:crypto";
import { DeleteCommand, QueryCommand, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { OWNER_ATTRIBUTE } from "@ferry/core";
import { type WorkflowTask, workflowSk } from "../model/workflow.ts";
import type { TableRef } from "./embedded.ts";
import { checkLimits } from "./embedded.ts";
import { type Item, REVISION_ATTRIBUTE, explainRefusal, revisionOf, unchangedSince } from "./revision.ts";

/** Sort key of a task record. */
export const taskRecordSk = (workflowId: string, taskId: string) => `${workflowSk(workflowId)}#TASK#${taskId}`;

/** Most task records deleted in the workflow's own transaction (TransactWriteItems takes 100 actions). */
const TRANSACTION_TASKS = 99;

/** The workflow's task records (strongly consistent), in `position` order. */
export async function readTaskRecords(table: TableRef, tenant: string, workflowId: string): Promise<Item[]> {
  const records: Item[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await table.doc.send(
      new QueryCommand({
        TableName: table.tableName,
        KeyConditionExpression: "PK = :tenant AND begins_with(SK, :prefix)",
        ExpressionAttributeValues: { ":tenant": tenant, ":prefix": `${workflowSk(workflowId)}#TASK#` },
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    records.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return records.sort((a, b) => Number(a.position ?? 0) - Number(b.position ?? 0));
}

/** A record as the application writes it: the task, its keys and v2's bookkeeping, no owner stamp. */
function taskRecord(tenant: string, workflowId: string, task: WorkflowTask, position: number): Item {
  return { ...task, PK: tenant, SK: taskRecordSk(workflowId, task.id), workflow: workflowSk(workflowId), position };
}

/** The parent's part of every transaction: still at the revision read, still without `tasks`; bumped. */
function bumpParent(table: TableRef, tenant: string, item: Item) {
  const revision = revisionOf(item);
  const condition = unchangedSince(revision, "absent");
  return {
    Update: {
      TableName: table.tableName,
      Key: { PK: tenant, SK: item.SK },
      UpdateExpression: "SET #rev = :next",
      ConditionExpression: condition.expression,
      ExpressionAttributeNames: condition.names,
      ExpressionAttributeValues: { ...condition.values, ":next": revision + 1 },
    },
  };
}

async function commit(table: TableRef, tenant: string, workflowId: string, item: Item, actions: object[]): Promise<Item> {
  try {
    // The token makes the SDK's retry of a transaction whose answer was lost a success, not a 409.
    await table.doc.send(new TransactWriteCommand({ TransactItems: [bumpParent(table, tenant, item), ...actions] as never, ClientRequestToken: randomUUID() }));
  } catch (err) {
    return explainRefusal(err, table.doc, table.tableName, tenant, workflowId, revisionOf(item));
  }
  return { ...item, [REVISION_ATTRIBUTE]: revisionOf(item) + 1 };
}

/** Adds a task record after the last one; returns the parent as written and the task. */
export async function addTaskRecord(table: TableRef, tenant: string, workflowId: string, item: Item, task: WorkflowTask) {
  const records = await readTaskRecords(table, tenant, workflowId);
  checkLimits(workflowId, taskRecord(tenant, workflowId, task, 0), records.length + 1);
  const position = records.reduce((max, r) => Math.max(max, Number(r.position ?? 0) + 1), 0);
  const record = taskRecord(tenant, workflowId, task, position);
  const parent = await commit(table, tenant, workflowId, item, [
    { Put: { TableName: table.tableName, Item: record, ConditionExpression: "attribute_not_exists(PK)" } },
  ]);
  return { item: parent, task: record };
}

/** Replaces a task record (read as `record`) with `task`, keeping its position; drops the owner stamp. */
export async function replaceTaskRecord(table: TableRef, tenant: string, workflowId: string, item: Item, record: Item, task: WorkflowTask) {
  const next = taskRecord(tenant, workflowId, task, Number(record.position ?? 0));
  checkLimits(workflowId, next, 1);
  const parent = await commit(table, tenant, workflowId, item, [
    { Put: { TableName: table.tableName, Item: next, ConditionExpression: "attribute_exists(PK)" } },
  ]);
  return { item: parent, task: next };
}

export async function deleteTaskRecord(table: TableRef, tenant: string, workflowId: string, item: Item, taskId: string): Promise<Item> {
  return commit(table, tenant, workflowId, item, [
    { Delete: { TableName: table.tableName, Key: { PK: tenant, SK: taskRecordSk(workflowId, taskId) }, ConditionExpression: "attribute_exists(PK)" } },
  ]);
}

/**
 * Deletes the workflow item (at the revision read, still without `tasks`) and every task
 * record in one transaction. A workflow with more records than fit deletes the item first
 * (from then on every task write refuses: its parent condition fails) and then the records;
 * a crash between leaves records nobody can read (v2 answers 404 without the parent), which
 * a repeated DELETE removes.
 */
export async function deleteWorkflowWithRecords(table: TableRef, tenant: string, workflowId: string, item: Item): Promise<void> {
  const records = await readTaskRecords(table, tenant, workflowId);
  const revision = revisionOf(item);
  const condition = unchangedSince(revision, "absent");
  const deleteParent = {
    TableName: table.tableName,
    Key: { PK: tenant, SK: item.SK },
    ConditionExpression: condition.expression,
    ExpressionAttributeNames: condition.names,
    ...(Object.keys(condition.values).length > 0 ? { ExpressionAttributeValues: condition.values } : {}),
  };
  const recordKey = (r: Item) => ({ PK: tenant, SK: r.SK });
  try {
    if (records.length <= TRANSACTION_TASKS) {
      const actions = [{ Delete: deleteParent }, ...records.map((r) => ({ Delete: { TableName: table.tableName, Key: recordKey(r) } }))];
      await table.doc.send(new TransactWriteCommand({ TransactItems: actions as never, ClientRequestToken: randomUUID() }));
      return;
    }
    await table.doc.send(new DeleteCommand(deleteParent as never));
  } catch (err) {
    return explainRefusal(err, table.doc, table.tableName, tenant, workflowId, revision);
  }
  await deleteLeftoverRecords(table, tenant, workflowId, records);
}

/** Deletes task records whose workflow item is gone (after an interrupted large delete). */
export async function deleteLeftoverRecords(table: TableRef, tenant: string, workflowId: string, known?: Item[]): Promise<number> {
  const records = known ?? (await readTaskRecords(table, tenant, workflowId));
  for (let i = 0; i < records.length; i += 16) {
    await Promise.all(records.slice(i, i + 16).map((r) => table.doc.send(new DeleteCommand({ TableName: table.tableName, Key: { PK: tenant, SK: r.SK } }))));
  }
  return records.length;
}

/** The task of a record (bookkeeping and stamp dropped). */
export function taskOfRecord(record: Item): WorkflowTask {
  const { PK: _pk, SK: _sk, workflow: _wf, position: _pos, [OWNER_ATTRIBUTE]: _stamp, ...task } = record;
  return task as WorkflowTask;
}
