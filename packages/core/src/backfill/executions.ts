/**
 * Names of the deployed backfill's executions. They are deterministic (run id and
 * execution number), so a retried StartExecution is refused as a duplicate instead of
 * running twice, and the CLI can find the current execution from the run record alone.
 */

/** Step Functions limits execution names to 80 characters. */
export const EXECUTION_NAME_MAX = 80;

/** `<runId>-<n>`: the name of execution `n` of a run. */
export function executionName(runId: string, execution: number): string {
  const suffix = `-${execution}`;
  return `${runId.slice(0, EXECUTION_NAME_MAX - suffix.length)}${suffix}`;
}

/** The ARN of a named execution of a state machine (`...:stateMachine:<sm>` -> `...:execution:<sm>:<name>`). */
export function executionArn(stateMachineArn: string, name: string): string {
  const parts = stateMachineArn.split(":");
  if (parts.length < 7 || parts[5] !== "stateMachine") throw new Error(`not a state machine ARN: ${stateMachineArn}`);
  return [...parts.slice(0, 5), "execution", parts[6], name].join(":");
}
