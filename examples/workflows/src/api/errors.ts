/** The example API's own error; the engine's API errors (ApiError and the rest) come from @ferry/core. */
import { ApiError } from "@ferry/core";

/** The workflow does not exist in the caller's tenant (also for other tenants' ids: never leak existence). */
export class WorkflowNotFoundError extends ApiError {
  constructor(readonly workflowId: string) {
    super(404, "not_found", `No workflow ${workflowId} in your tenant.`);
  }
}
