/**
 * The request bodies of the write routes, as zod schemas, and how a body becomes a 400 naming
 * the field. A body is parsed completely before anything is read or written, so a bad body
 * never causes a partial write.
 */
import { BadRequestError, MAX_ITEM_BYTES } from "@ferry/core";
import type { Context } from "hono";
import { z } from "zod";
import { WorkflowStatus } from "../model/workflow.ts";
import { BodyTooLargeError } from "./errors.ts";

/**
 * Most tasks a workflow may hold: the migrations' `maxRecordsPerItem` (100). A workflow with
 * more would fail 0002's derive and stop its dual-write on that item.
 */
export const MAX_TASKS = 100;
/** Most contexts a workflow may list (0001 derives one record per distinct context; same limit). */
export const MAX_CONTEXTS = 100;
/** Largest body accepted: a workflow item cannot exceed DynamoDB's 400 KB anyway. */
export const MAX_BODY_BYTES = MAX_ITEM_BYTES;

/** Ids become parts of sort keys (`CTX#<id>#WF#<id>`, `WF#<id>#TASK#<id>`): no `#`, no spaces. */
const Id = z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, "must be 1-128 characters of A-Z a-z 0-9 . _ : -");
const Name = z.string().trim().min(1, "must not be empty").max(256);
const Time = z.iso.datetime({ offset: true, message: "must be an ISO 8601 date-time, e.g. 2026-12-01T10:00:00Z" });
const People = z.array(z.string().min(1).max(128)).max(50);
/** Optional text; `null` in a PATCH removes it. */
const Text = z.string().max(64 * 1024);

const ContextRef = z.strictObject({ id: Id, name: z.string().max(256) });
const Contexts = z
  .array(ContextRef)
  .max(MAX_CONTEXTS)
  .refine((list) => new Set(list.map((c) => c.id)).size === list.length, "lists a context id twice");

const workflowFields = {
  name: Name,
  status: WorkflowStatus,
  started_at: Time,
  completed_at: Time,
  assignees: People,
  contexts: Contexts,
  description: Text,
};

const taskFields = {
  name: Name,
  status: WorkflowStatus,
  started_at: Time,
  completed_at: Time,
  assignees: People,
  dueDate: Time,
  notes: Text,
};

export const NewTaskBody = z.strictObject({
  ...taskFields,
  status: taskFields.status.default("TO_DO"),
  started_at: taskFields.started_at.optional(),
  completed_at: taskFields.completed_at.optional(),
  assignees: taskFields.assignees.default([]),
  notes: taskFields.notes.optional(),
});
export type NewTaskBody = z.infer<typeof NewTaskBody>;

export const NewWorkflowBody = z.strictObject({
  ...workflowFields,
  status: workflowFields.status.default("TO_DO"),
  started_at: workflowFields.started_at.optional(),
  completed_at: workflowFields.completed_at.optional(),
  assignees: workflowFields.assignees.default([]),
  contexts: workflowFields.contexts.default([]),
  description: workflowFields.description.optional(),
});
export type NewWorkflowBody = z.infer<typeof NewWorkflowBody>;

/** v1's model embeds tasks, so a v1 create may carry them; v2 adds tasks through their own route. */
export const NewV1WorkflowBody = NewWorkflowBody.extend({ tasks: z.array(NewTaskBody).max(MAX_TASKS).default([]) });
export type NewV1WorkflowBody = z.infer<typeof NewV1WorkflowBody>;

const atLeastOne = (value: Record<string, unknown>) => Object.keys(value).length > 0;
const NOTHING = "the body changes nothing: send at least one field";

export const WorkflowPatchBody = z
  .strictObject({
    name: Name.optional(),
    status: WorkflowStatus.optional(),
    started_at: Time.optional(),
    completed_at: Time.nullable().optional(),
    assignees: People.optional(),
    contexts: Contexts.optional(),
    description: Text.nullable().optional(),
  })
  .refine(atLeastOne, NOTHING);
export type WorkflowPatchBody = z.infer<typeof WorkflowPatchBody>;

export const TaskPatchBody = z
  .strictObject({
    name: Name.optional(),
    status: WorkflowStatus.optional(),
    started_at: Time.optional(),
    completed_at: Time.nullable().optional(),
    assignees: People.optional(),
    dueDate: Time.optional(),
    notes: Text.nullable().optional(),
  })
  .refine(atLeastOne, NOTHING);
export type TaskPatchBody = z.infer<typeof TaskPatchBody>;

/** The field a zod issue is about, as `contexts[0].id`. */
function fieldOf(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, part) => (typeof part === "number" ? `${out}[${part}]` : out ? `${out}.${String(part)}` : String(part)), "");
}

/** Reads and validates the JSON body; a problem is a BadRequestError naming the field. */
export async function parseBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  // Refused before it is read when the client says how large it is.
  if (Number(c.req.header("content-length") ?? 0) > MAX_BODY_BYTES) throw new BodyTooLargeError(MAX_BODY_BYTES);
  const text = await c.req.text();
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) throw new BodyTooLargeError(MAX_BODY_BYTES);
  if (text.trim() === "") throw new BadRequestError("body", "The body is empty; send a JSON object.");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new BadRequestError("body", "The body is not valid JSON; send a JSON object (Content-Type: application/json).");
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const keys = issue.code === "unrecognized_keys" ? issue.keys.map((k) => fieldOf([...issue.path, k])) : [];
    const field = keys.length > 0 ? keys.join(", ") : fieldOf(issue.path) || "body";
    return { field, text: keys.length > 0 ? `${field}: not a field of this body` : `${field}: ${issue.message}` };
  });
  throw new BadRequestError(problems[0]?.field ?? "body", `Invalid body: ${problems.map((p) => p.text).join("; ")}.`);
}
