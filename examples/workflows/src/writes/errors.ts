/** The write routes' errors; each is answered as `{ "error": { "code", "message" } }` with its status. */
import { ApiError } from "@ferry/core";

/**
 * Another write changed the workflow first (or the client's If-Match names an older
 * revision): nothing of this request was written. Read the workflow again and retry.
 */
export class WriteConflictError extends ApiError {
  constructor(
    readonly workflowId: string,
    /** The revision the write was conditional on. */
    readonly expected: number,
    /** The revision found, when known. */
    readonly current?: number,
  ) {
    super(
      409,
      "conflict",
      `Workflow ${workflowId} changed since revision ${expected}${current !== undefined ? ` (it is at ${current} now)` : ""}; nothing was written: read it again and retry.`,
    );
  }
}

/** No such task in the workflow (the workflow exists in the caller's tenant). */
export class TaskNotFoundError extends ApiError {
  constructor(
    readonly workflowId: string,
    readonly taskId: string,
  ) {
    super(404, "not_found", `No task ${taskId} in workflow ${workflowId}.`);
  }
}

/** The change would break a limit of the model (task count, item size): nothing was written. */
export class WorkflowLimitError extends ApiError {
  constructor(
    readonly workflowId: string,
    readonly limit: string,
  ) {
    super(413, "too_large", `Workflow ${workflowId} cannot take this change: ${limit}; nothing was written.`);
  }
}

/** An If-Match header that is not a revision. */
export class InvalidIfMatchError extends ApiError {
  constructor(readonly header: string) {
    super(400, "bad_request", `If-Match must be a revision in quotes, e.g. If-Match: "3" (got ${JSON.stringify(header.slice(0, 40))}).`);
  }
}

/** A body larger than any workflow item can be. */
export class BodyTooLargeError extends ApiError {
  constructor(readonly limit: number) {
    super(413, "too_large", `The body is larger than ${limit} bytes, which no workflow item can be; send a smaller one.`);
  }
}
