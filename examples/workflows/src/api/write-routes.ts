/**
 * The write routes of both API versions, on @ferry/core's versioning library: each declares
 * one handler per version; the library resolves tenant and version (auth, release, usage,
 * 410 after remove) exactly as for the reads and calls the handler of the chosen version. v1 answers in the
 * old model's shape (a workflow with its embedded tasks), v2 in the new one's (a workflow
 * without tasks; tasks on their own). Both write through the same writer (../writes), which
 * puts every write in the model that holds the truth.
 */
import { type Answer, type VersionedCall, answer, versionedRoutes } from "@ferry/core";
import type { Context, Hono } from "hono";
import { type ApiItem, parseId, present, workflowIdOfSk } from "../reads/view.ts";
import { NewTaskBody, NewV1WorkflowBody, NewWorkflowBody, TaskPatchBody, WorkflowPatchBody, parseBody } from "../writes/bodies.ts";
import { InvalidIfMatchError } from "../writes/errors.ts";
import { type Item, revisionOf } from "../writes/revision.ts";
import type { WorkflowWriter } from "../writes/writer.ts";
import type { ApiDeps } from "./app.ts";

type Handler = (c: Context, call: VersionedCall) => Promise<Answer<unknown>>;

/** `If-Match: "3"` (or `3`, `W/"3"`); `*` and no header mean no precondition. */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === "" || header.trim() === "*") return undefined;
  const match = header.trim().match(/^(?:W\/)?"?(\d{1,15})"?$/);
  if (!match) throw new InvalidIfMatchError(header);
  return Number(match[1]);
}

const workflowOf = (item: Item, version: "v1" | "v2"): ApiItem => present(workflowIdOfSk(item.SK), item, version === "v2" ? ["tasks"] : []);
const taskOf = (task: { id: string }): ApiItem => present(task.id, task as Record<string, unknown>);
/** The answer of a write: the workflow's new revision as ETag. */
const written = (item: Item, body: unknown, status = 200, headers: Record<string, string> = {}) =>
  answer(body, { status, headers: { ETag: `"${revisionOf(item)}"`, ...headers } });

/**
 * Declares the six write routes on `app`, following the task split's release (0002) like the
 * workflow reads: the same tenant, version choice, 410 after remove and usage counts.
 */
export function registerWrites(app: Hono, deps: ApiDeps): void {
  const writer: WorkflowWriter = deps.writer;
  const routes = versionedRoutes(app, {
    release: deps.releases.workflow,
    tokenSecret: deps.tokenSecret,
    tenant: deps.tenant,
    background: deps.background,
    logError: (err: unknown) => deps.logError(err),
  });
  const ids = (c: Context) => ({ workflowId: parseId("workflow id", c.req.param("id")), ifMatch: parseIfMatch(c.req.header("if-match")) });
  const taskId = (c: Context) => parseId("task id", c.req.param("taskId"));
  const both = (handler: Handler) => ({ v1: handler, v2: handler });

  const create: Handler = async (c, { tenant, version }) => {
    const body = await parseBody(c, version === "v1" ? NewV1WorkflowBody : NewWorkflowBody);
    const item = await writer.createWorkflow(tenant, body);
    return written(item, workflowOf(item, version), 201, { Location: `/${version}/workflows/${workflowIdOfSk(item.SK)}` });
  };
  const update: Handler = async (c, { tenant, version }) => {
    const { workflowId, ifMatch } = ids(c);
    const patch = await parseBody(c, WorkflowPatchBody);
    const item = await writer.updateWorkflow(tenant, workflowId, patch, ifMatch);
    return written(item, workflowOf(item, version));
  };
  const remove: Handler = async (c, { tenant }) => {
    const { workflowId, ifMatch } = ids(c);
    await writer.deleteWorkflow(tenant, workflowId, ifMatch);
    return answer(null, { status: 204 });
  };
  const addTask: Handler = async (c, { tenant }) => {
    const { workflowId, ifMatch } = ids(c);
    const body = await parseBody(c, NewTaskBody);
    const { item, task } = await writer.addTask(tenant, workflowId, body, ifMatch);
    return written(item, taskOf(task), 201);
  };
  const updateTask: Handler = async (c, { tenant }) => {
    const { workflowId, ifMatch } = ids(c);
    const id = taskId(c);
    const patch = await parseBody(c, TaskPatchBody);
    const { item, task } = await writer.updateTask(tenant, workflowId, id, patch, ifMatch);
    return written(item, taskOf(task));
  };
  const removeTask: Handler = async (c, { tenant }) => {
    const { workflowId, ifMatch } = ids(c);
    const item = await writer.deleteTask(tenant, workflowId, taskId(c), ifMatch);
    return written(item, null, 204);
  };

  // The handlers differ by version only in the workflow's shape (and v1's create taking tasks).
  routes
    .post("/workflows", both(create))
    .patch("/workflows/:id", both(update))
    .delete("/workflows/:id", both(remove))
    .post("/workflows/:id/tasks", both(addTask))
    .patch("/workflows/:id/tasks/:taskId", both(updateTask))
    .delete("/workflows/:id/tasks/:taskId", both(removeTask));
}
