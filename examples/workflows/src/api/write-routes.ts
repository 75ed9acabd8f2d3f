/**
 * The write routes of both API versions: each declares its path, method and one handler per
 * version; the app resolves tenant and version (auth, release, usage, 410 after remove)
 * exactly as for the reads and calls the handler of the chosen version. v1 answers in the
 * old model's shape (a workflow with its embedded tasks), v2 in the new one's (a workflow
 * without tasks; tasks on their own). Both write through the same writer (../writes), which
 * puts every write in the model that holds the truth.
 */
import type { Context } from "hono";
import { type ApiItem, parseId, present } from "../reads/view.ts";
import { NewTaskBody, NewV1WorkflowBody, NewWorkflowBody, TaskPatchBody, WorkflowPatchBody, parseBody } from "../writes/bodies.ts";
import { InvalidIfMatchError } from "../writes/errors.ts";
import { type Item, revisionOf } from "../writes/revision.ts";
import type { WorkflowWriter } from "../writes/writer.ts";
import { workflowIdOfSk } from "../reads/view.ts";

/** What a handler gets from the versioning layer. */
export interface WriteRequest {
  tenant: string;
}

export type WriteHandler = (c: Context, request: WriteRequest) => Promise<Response>;

export interface VersionedWriteRoute {
  method: "POST" | "PATCH" | "DELETE";
  /** Below the version prefix, e.g. `/workflows/:id`. */
  path: string;
  v1: WriteHandler;
  v2: WriteHandler;
}

/** `If-Match: "3"` (or `3`, `W/"3"`); `*` and no header mean no precondition. */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === "" || header.trim() === "*") return undefined;
  const match = header.trim().match(/^(?:W\/)?"?(\d{1,15})"?$/);
  if (!match) throw new InvalidIfMatchError(header);
  return Number(match[1]);
}

const workflowOf = (item: Item, version: "v1" | "v2"): ApiItem => present(workflowIdOfSk(item.SK), item, version === "v2" ? ["tasks"] : []);
const taskOf = (task: { id: string }): ApiItem => present(task.id, task as Record<string, unknown>);

/** The answer of a write: the revision as ETag, the body as JSON. */
function answer(c: Context, item: Item, body: unknown, status: 200 | 201 = 200): Response {
  c.header("ETag", `"${revisionOf(item)}"`);
  return c.json(body as object, status);
}

function done(c: Context): Response {
  return c.body(null, 204);
}

/** The six write routes, each with its v1 and v2 handler. */
export function writeRoutes(writer: WorkflowWriter): VersionedWriteRoute[] {
  const ids = (c: Context) => ({ workflowId: parseId("workflow id", c.req.param("id")), ifMatch: parseIfMatch(c.req.header("if-match")) });
  const taskId = (c: Context) => parseId("task id", c.req.param("taskId"));

  const create = (version: "v1" | "v2"): WriteHandler => async (c, { tenant }) => {
    const body = await parseBody(c, version === "v1" ? NewV1WorkflowBody : NewWorkflowBody);
    const item = await writer.createWorkflow(tenant, body);
    const id = workflowIdOfSk(item.SK);
    c.header("Location", `/${version}/workflows/${id}`);
    return answer(c, item, workflowOf(item, version), 201);
  };
  const update = (version: "v1" | "v2"): WriteHandler => async (c, { tenant }) => {
    const { workflowId, ifMatch } = ids(c);
    const patch = await parseBody(c, WorkflowPatchBody);
    const item = await writer.updateWorkflow(tenant, workflowId, patch, ifMatch);
    return answer(c, item, workflowOf(item, version));
  };
  const remove: WriteHandler = async (c, { tenant }) => {
    const { workflowId, ifMatch } = ids(c);
    await writer.deleteWorkflow(tenant, workflowId, ifMatch);
    return done(c);
  };
  const addTask: WriteHandler = async (c, { tenant }) => {
    const { workflowId, ifMatch } = ids(c);
    const body = await parseBody(c, NewTaskBody);
    const { item, task } = await writer.addTask(tenant, workflowId, body, ifMatch);
    return answer(c, item, taskOf(task), 201);
  };
  const updateTask: WriteHandler = async (c, { tenant }) => {
    const { workflowId, ifMatch } = ids(c);
    const id = taskId(c);
    const patch = await parseBody(c, TaskPatchBody);
    const { item, task } = await writer.updateTask(tenant, workflowId, id, patch, ifMatch);
    return answer(c, item, taskOf(task));
  };
  const removeTask: WriteHandler = async (c, { tenant }) => {
    const { workflowId, ifMatch } = ids(c);
    const item = await writer.deleteTask(tenant, workflowId, taskId(c), ifMatch);
    c.header("ETag", `"${revisionOf(item)}"`);
    return done(c);
  };

  // Tasks are the same on both versions; only the workflow's shape differs.
  return [
    { method: "POST", path: "/workflows", v1: create("v1"), v2: create("v2") },
    { method: "PATCH", path: "/workflows/:id", v1: update("v1"), v2: update("v2") },
    { method: "DELETE", path: "/workflows/:id", v1: remove, v2: remove },
    { method: "POST", path: "/workflows/:id/tasks", v1: addTask, v2: addTask },
    { method: "PATCH", path: "/workflows/:id/tasks/:taskId", v1: updateTask, v2: updateTask },
    { method: "DELETE", path: "/workflows/:id/tasks/:taskId", v1: removeTask, v2: removeTask },
  ];
}

/** The methods each path answers (GET/HEAD are the reads'), for the 405's Allow header. */
export const ALLOWED_METHODS_BY_PATH: Record<string, string> = {
  "/workflows": "GET, HEAD, POST",
  "/workflows/:id": "GET, HEAD, PATCH, DELETE",
  "/workflows/:id/tasks": "GET, HEAD, POST",
  "/workflows/:id/tasks/:taskId": "PATCH, DELETE",
};
