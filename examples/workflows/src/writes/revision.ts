/**
 * Optimistic concurrency on a workflow: every write bumps the item's `revision` and is
 * conditional on the revision it read (and on where the item keeps its tasks), so of two
 * writers that read the same revision exactly one succeeds and the other gets a 409.
 * Items written before this API (the seed) have no revision: they are at revision 0.
 */
import { type DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { WorkflowNotFoundError } from "../api/errors.ts";
import { workflowSk } from "../model/workflow.ts";
import { WriteConflictError } from "./errors.ts";

/** The attribute counting a workflow's writes. */
export const REVISION_ATTRIBUTE = "revision";

export type Item = Record<string, unknown>;

/** Where a workflow item keeps its tasks: the embedded array (old model) or task records (new model). */
export type TaskHome = "embedded" | "records";

export function tasksAttributeOf(item: Item): TasksAttribute {
  return "tasks" in item ? "present" : "absent";
}

export function revisionOf(item: Item): number {
  const value = item[REVISION_ATTRIBUTE];
  return typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : 0;
}

/** A condition expression (with its names and values) on the item's revision and task home. */
export interface Condition {
  expression: string;
  names: Record<string, string>;
  values: Record<string, unknown>;
}

/** Whether the item had its `tasks` attribute when it was read. */
export type TasksAttribute = "present" | "absent";

/**
 * The item exists, is still at `revision`, and (when given) still has or lacks `tasks` as it
 * did when read: the remove step's cleanup drops `tasks` without touching the revision, so
 * that is part of the condition of every write that depends on where the tasks are.
 */
export function unchangedSince(revision: number, tasks?: TasksAttribute): Condition {
  const parts = ["attribute_exists(PK)", revision === 0 ? "attribute_not_exists(#rev)" : "#rev = :rev"];
  const names: Record<string, string> = { "#rev": REVISION_ATTRIBUTE };
  if (tasks) {
    parts.push(tasks === "present" ? "attribute_exists(#tasks)" : "attribute_not_exists(#tasks)");
    names["#tasks"] = "tasks";
  }
  return { expression: parts.join(" AND "), names, values: revision === 0 ? {} : { ":rev": revision } };
}

/** True for a refused condition, on a single write or any action of a transaction. */
export function isConditionFailure(err: unknown): boolean {
  // By name: the example depends on lib-dynamodb only, whose errors are the client's.
  const { name, CancellationReasons } = (err ?? {}) as { name?: string; CancellationReasons?: { Code?: string }[] };
  if (name === "ConditionalCheckFailedException") return true;
  return name === "TransactionCanceledException" && (CancellationReasons ?? []).some((r) => r.Code === "ConditionalCheckFailed");
}

/** The workflow item as stored now (strongly consistent), or undefined. */
export async function readWorkflow(doc: DynamoDBDocumentClient, tableName: string, tenant: string, workflowId: string): Promise<Item | undefined> {
  const out = await doc.send(new GetCommand({ TableName: tableName, Key: { PK: tenant, SK: workflowSk(workflowId) }, ConsistentRead: true }));
  return out.Item;
}

/** Reads the workflow or throws a 404; with `ifMatch`, a 409 when it is at another revision. */
export async function readForWrite(doc: DynamoDBDocumentClient, tableName: string, tenant: string, workflowId: string, ifMatch?: number): Promise<Item> {
  const item = await readWorkflow(doc, tableName, tenant, workflowId);
  if (!item) throw new WorkflowNotFoundError(workflowId);
  if (ifMatch !== undefined && ifMatch !== revisionOf(item)) throw new WriteConflictError(workflowId, ifMatch, revisionOf(item));
  return item;
}

/**
 * Turns a refused condition into what the client needs to know: the workflow is gone (404)
 * or another write landed first (409). Any other error is rethrown unchanged.
 */
export async function explainRefusal(
  err: unknown,
  doc: DynamoDBDocumentClient,
  tableName: string,
  tenant: string,
  workflowId: string,
  expected: number,
): Promise<never> {
  if (!isConditionFailure(err)) throw err;
  const now = await readWorkflow(doc, tableName, tenant, workflowId);
  if (!now) throw new WorkflowNotFoundError(workflowId);
  throw new WriteConflictError(workflowId, expected, revisionOf(now));
}
