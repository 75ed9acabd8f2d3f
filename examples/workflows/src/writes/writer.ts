/**
 * The example's writes, shared by both API versions: create, update and delete a workflow;
 * add, update and delete a task. Each write goes to the model that holds the truth for that
 * workflow: the old model (the item with its embedded tasks) while v1 is served, so readers
 * of both versions see it (v2 after the dual-write's lag), and the new model (task records)
 * once remove has retired v1 and the cleanup has dropped the item's `tasks`. Every write is
 * conditional on the workflow's revision (revision.ts): a concurrent writer gets a 409,
 * never a lost update. Once remove has retired 0003's v1, its dual-write no longer sets the
 * byStatus index keys: the writer sets them itself, on create and on every update of status
 * or started_at (read, derive, write on the revision read), so new and changed workflows stay
 * in v2's index.
 */
import { randomBytes } from "node:crypto";
import { GetCommand, DeleteCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { WorkflowNotFoundError } from "../api/errors.ts";
import { sameRecord } from "@ferry/core";
import { type WorkflowTask, workflowIdOf, workflowSk } from "../model/workflow.ts";
import { byStatusKeys } from "../reads/by-status.ts";
import type { NewTaskBody, NewV1WorkflowBody, NewWorkflowBody, TaskPatchBody, WorkflowPatchBody } from "./bodies.ts";
import { type TableRef, checkLimits, embeddedTasks, rewriteEmbeddedTasks } from "./embedded.ts";
import { TaskNotFoundError, WorkflowLimitError, WriteConflictError } from "./errors.ts";
import { addTaskRecord, deleteLeftoverRecords, deleteTaskRecord, deleteWorkflowWithRecords, replaceTaskRecord, taskOfRecord, taskRecordSk } from "./records.ts";
import {
  type Item,
  type TaskHome,
  REVISION_ATTRIBUTE,
  explainRefusal,
  isConditionFailure,
  readForWrite,
  readWorkflow,
  revisionOf,
  tasksAttributeOf,
  unchangedSince,
} from "./revision.ts";

/** What the writer needs to know of the release of the task split (0002). */
export interface WriteRelease {
  /** True once remove retired v1 (the server's cached view). */
  v1Retired(): Promise<boolean>;
  /** The same, read from the control table now: a cache time must not decide where tasks go. */
  v1RetiredNow(): Promise<boolean>;
  /** True once remove retired the status index's (0003's) v1: the application owns the byStatus keys. Absent: never. */
  statusKeysOwned?(): Promise<boolean>;
}

export interface WriterOptions {
  now: () => Date;
  /** New workflow and task ids. */
  newId: (kind: "workflow" | "task") => string;
}

export const DEFAULT_WRITER_OPTIONS: WriterOptions = {
  now: () => new Date(),
  newId: (kind) => randomBytes(kind === "workflow" ? 7 : 6).toString("hex"),
};

export interface TaskWrite {
  /** The workflow item as written (its new revision). */
  item: Item;
  task: WorkflowTask;
}

export interface WorkflowWriter {
  /** The stored item of the new workflow. */
  createWorkflow(tenant: string, body: NewWorkflowBody | NewV1WorkflowBody): Promise<Item>;
  updateWorkflow(tenant: string, workflowId: string, patch: WorkflowPatchBody, ifMatch?: number): Promise<Item>;
  deleteWorkflow(tenant: string, workflowId: string, ifMatch?: number): Promise<void>;
  addTask(tenant: string, workflowId: string, body: NewTaskBody, ifMatch?: number): Promise<TaskWrite>;
  updateTask(tenant: string, workflowId: string, taskId: string, patch: TaskPatchBody, ifMatch?: number): Promise<TaskWrite>;
  deleteTask(tenant: string, workflowId: string, taskId: string, ifMatch?: number): Promise<Item>;
}

/** `patch` applied to `target`: a field set to null is removed. */
function applyPatch<T extends object>(target: T, patch: object): T {
  const next = { ...target } as Record<string, unknown>;
  for (const [name, value] of Object.entries(patch)) {
    if (value === null) delete next[name];
    else if (value !== undefined) next[name] = value;
  }
  return next as T;
}

/** The byStatus keys of `item` as 0003 derives them, or nulls (removed) when it lacks a field they need. */
function statusKeysOf(item: Item): { byStatusPk: string | null; byStatusSk: string | null } {
  const { PK, SK, status, started_at } = item as { PK: string; SK: string; status?: unknown; started_at?: unknown };
  if (typeof status !== "string" || !status || typeof started_at !== "string" || !started_at) return { byStatusPk: null, byStatusSk: null };
  return byStatusKeys(PK, status, started_at, SK);
}

/** Tries of an update that re-derives the index keys, when other writes keep landing between its read and its write. */
const INDEX_KEY_TRIES = 5;

/** DynamoDB's refusal of an item over 400 KB (an update cannot be sized before it is applied). */
const isTooLarge = (err: unknown) => (err as { name?: string })?.name === "ValidationException" && /size/i.test(String((err as Error).message));

export function createWorkflowWriter(table: TableRef, release: WriteRelease, options: Partial<WriterOptions> = {}): WorkflowWriter {
  const o = { ...DEFAULT_WRITER_OPTIONS, ...options };
  const newTask = (body: NewTaskBody): WorkflowTask => ({ id: o.newId("task"), ...body, started_at: body.started_at ?? o.now().toISOString() });

  /** Where this workflow's tasks are written (see the file's comment). */
  async function homeOf(item: Item): Promise<TaskHome> {
    if ("tasks" in item) return "embedded";
    // No array: the cleanup dropped it, or the item never had one. The release tells which.
    return (await release.v1Retired()) || (await release.v1RetiredNow()) ? "records" : "embedded";
  }

  async function findTask(tenant: string, workflowId: string, item: Item, home: TaskHome, taskId: string) {
    if (home === "embedded") {
      const task = embeddedTasks(item).find((t) => t.id === taskId);
      if (!task) throw new TaskNotFoundError(workflowId, taskId);
      return { task };
    }
    const out = await table.doc.send(
      new GetCommand({ TableName: table.tableName, Key: { PK: tenant, SK: taskRecordSk(workflowId, taskId) }, ConsistentRead: true }),
    );
    if (!out.Item) throw new TaskNotFoundError(workflowId, taskId);
    return { task: taskOfRecord(out.Item), record: out.Item };
  }

  /** One UpdateItem: fields set or removed, the revision bumped; conditional on `ifMatch` when given. */
  async function updateOnce(tenant: string, workflowId: string, patch: WorkflowPatchBody, ifMatch?: number): Promise<Item> {
    const names: Record<string, string> = { "#rev": REVISION_ATTRIBUTE };
    const values: Record<string, unknown> = { ":zero": 0, ":one": 1 };
    const sets = ["#rev = if_not_exists(#rev, :zero) + :one"];
    const removes: string[] = [];
    Object.entries(patch).forEach(([name, value], i) => {
      if (value === undefined) return;
      names[`#f${i}`] = name;
      if (value === null) removes.push(`#f${i}`);
      else {
        values[`:f${i}`] = value;
        sets.push(`#f${i} = :f${i}`);
      }
    });
    const condition = ifMatch === undefined ? { expression: "attribute_exists(PK)", names: {}, values: {} } : unchangedSince(ifMatch);
    try {
      const out = await table.doc.send(
        new UpdateCommand({
          TableName: table.tableName,
          Key: { PK: tenant, SK: workflowSk(workflowId) },
          UpdateExpression: `SET ${sets.join(", ")}${removes.length ? ` REMOVE ${removes.join(", ")}` : ""}`,
          ConditionExpression: condition.expression,
          ExpressionAttributeNames: { ...names, ...condition.names },
          ExpressionAttributeValues: { ...values, ...condition.values },
          ReturnValues: "ALL_NEW",
        }),
      );
      return out.Attributes as Item;
    } catch (err) {
      if (isTooLarge(err)) throw new WorkflowLimitError(workflowId, "the item would be over DynamoDB's 400 KB");
      return explainRefusal(err, table.doc, table.tableName, tenant, workflowId, ifMatch ?? 0);
    }
  }

  return {
    async createWorkflow(tenant, body) {
      const { tasks, ...fields } = { tasks: [], ...body } as NewV1WorkflowBody;
      const embedded = !(await release.v1Retired());
      // Only v1 carries tasks on create, and v1 is gone once retired.
      if (!embedded && tasks.length > 0) throw new WorkflowLimitError("(new)", "tasks are added with POST /v2/workflows/{id}/tasks");
      const item: Item = {
        PK: tenant,
        SK: workflowSk(o.newId("workflow")),
        ...fields,
        started_at: fields.started_at ?? o.now().toISOString(),
        // While v1 is served the array is the tasks' home, even when empty.
        ...(embedded ? { tasks: tasks.map(newTask) } : {}),
        [REVISION_ATTRIBUTE]: 1,
      };
      if (await release.statusKeysOwned?.()) {
        const keys = statusKeysOf(item);
        if (keys.byStatusPk) Object.assign(item, keys);
      }
      checkLimits(String(item.SK), item, tasks.length);
      try {
        await table.doc.send(new PutCommand({ TableName: table.tableName, Item: item, ConditionExpression: "attribute_not_exists(PK)" }));
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
        // The SDK's retry of a put whose answer was lost finds our own item: that is the success.
        const now = await readWorkflow(table.doc, table.tableName, tenant, workflowIdOf(String(item.SK)));
        if (!now || !sameRecord(now, item)) throw new WriteConflictError(workflowIdOf(String(item.SK)), 0, now ? revisionOf(now) : undefined);
      }
      return item;
    },

    async updateWorkflow(tenant, workflowId, original, ifMatch) {
      const touchesIndex = "status" in original || "started_at" in original;
      if (!touchesIndex || !(await release.statusKeysOwned?.())) return updateOnce(tenant, workflowId, original, ifMatch);
      // The index keys derive from status and started_at together: read, derive, write on the revision read.
      for (let attempt = 1; ; attempt++) {
        const current = await readForWrite(table.doc, table.tableName, tenant, workflowId, ifMatch);
        const patch = { ...original, ...statusKeysOf(applyPatch(current, original)) } as WorkflowPatchBody;
        try {
          return await updateOnce(tenant, workflowId, patch, ifMatch ?? revisionOf(current));
        } catch (err) {
          // Without If-Match the caller asked for no revision: another write in between is read again, not a 409.
          if (!(err instanceof WriteConflictError) || ifMatch !== undefined || attempt >= INDEX_KEY_TRIES) throw err;
        }
      }
    },

    async deleteWorkflow(tenant, workflowId, ifMatch) {
      const item = await readWorkflow(table.doc, table.tableName, tenant, workflowId);
      if (!item) {
        // A large delete interrupted after its item went leaves unreadable records: a retry removes them.
        if (await release.v1Retired()) await deleteLeftoverRecords(table, tenant, workflowId);
        throw new WorkflowNotFoundError(workflowId);
      }
      if (ifMatch !== undefined && ifMatch !== revisionOf(item)) throw new WriteConflictError(workflowId, ifMatch, revisionOf(item));
      const checked = item;
      if ((await homeOf(checked)) === "records") return deleteWorkflowWithRecords(table, tenant, workflowId, checked);
      // Old model: the dual-write deletes the records the item's tasks derived, from its old image.
      const revision = revisionOf(checked);
      const condition = unchangedSince(revision, tasksAttributeOf(checked));
      try {
        await table.doc.send(
          new DeleteCommand({
            TableName: table.tableName,
            Key: { PK: tenant, SK: checked.SK },
            ConditionExpression: condition.expression,
            ExpressionAttributeNames: condition.names,
            ...(Object.keys(condition.values).length ? { ExpressionAttributeValues: condition.values } : {}),
          }),
        );
      } catch (err) {
        await explainRefusal(err, table.doc, table.tableName, tenant, workflowId, revision);
      }
    },

    async addTask(tenant, workflowId, body, ifMatch) {
      const item = await readForWrite(table.doc, table.tableName, tenant, workflowId, ifMatch);
      const task = newTask(body);
      if ((await homeOf(item)) === "records") {
        const written = await addTaskRecord(table, tenant, workflowId, item, task);
        return { item: written.item, task: taskOfRecord(written.task) };
      }
      return { item: await rewriteEmbeddedTasks(table, tenant, workflowId, item, (tasks) => [...tasks, task]), task };
    },

    async updateTask(tenant, workflowId, taskId, patch, ifMatch) {
      const item = await readForWrite(table.doc, table.tableName, tenant, workflowId, ifMatch);
      const home = await homeOf(item);
      const found = await findTask(tenant, workflowId, item, home, taskId);
      const task = applyPatch(found.task, patch);
      if (found.record) return { item: (await replaceTaskRecord(table, tenant, workflowId, item, found.record, task)).item, task };
      const written = await rewriteEmbeddedTasks(table, tenant, workflowId, item, (tasks) => tasks.map((t) => (t.id === taskId ? task : t)));
      return { item: written, task };
    },

    async deleteTask(tenant, workflowId, taskId, ifMatch) {
      const item = await readForWrite(table.doc, table.tableName, tenant, workflowId, ifMatch);
      const home = await homeOf(item);
      await findTask(tenant, workflowId, item, home, taskId);
      if (home === "records") return deleteTaskRecord(table, tenant, workflowId, item, taskId);
      return rewriteEmbeddedTasks(table, tenant, workflowId, item, (tasks) => tasks.filter((t) => t.id !== taskId));
    },
  };
}
