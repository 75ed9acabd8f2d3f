/**
 * Runs the backfill state machine locally: the repo's ASL file in aws-local-stepfunctions,
 * with every task bound to the same task functions the Lambdas run. Continues as a new
 * execution when the state machine asks to, exactly as the deployed one does.
 */
// aws-local-stepfunctions 3 needs Promise.withResolvers (Node 22); Node 20 gets the es-shims polyfill.
import "promise.withresolvers/auto";
import { StateMachine } from "aws-local-stepfunctions";
import { backfillDefinition } from "./definition.ts";
import { type BackfillExecutionInput, type BackfillTaskDeps, createBackfillTasks } from "./tasks.ts";

export interface LocalExecutionSummary {
  execution: number;
  /** Interpreter events (state entered/exited, map iterations...) of this execution. */
  events: number;
  status: "succeeded" | "failed";
  error?: string;
}

export interface LocalRunOptions {
  /** Milliseconds between Retry attempts (overrides the definition's backoff; tests use 0). */
  retryIntervalMs?: number;
  /** Called after each execution ends. */
  onExecution?: (summary: LocalExecutionSummary) => void;
}

const RETRYING_STATES = ["PlanSegments", "Page", "Finish", "ContinueAsNewExecution", "RecordFailure"];

/** Runs executions until the backfill stops continuing; returns one summary per execution. */
export async function runBackfillExecutions(
  deps: Omit<BackfillTaskDeps, "startExecution">,
  input: BackfillExecutionInput,
  options: LocalRunOptions = {},
): Promise<LocalExecutionSummary[]> {
  const summaries: LocalExecutionSummary[] = [];
  const definition = backfillDefinition();
  let next: BackfillExecutionInput | undefined = input;
  while (next) {
    const current: BackfillExecutionInput = next;
    next = undefined;
    const tasks = createBackfillTasks({
      ...deps,
      startExecution: async (following) => {
        next = following;
      },
    });
    const machine = new StateMachine(definition as never, { validationOptions: { checkArn: true, checkPaths: true } });
    const retryIntervalOverrides =
      options.retryIntervalMs === undefined ? undefined : Object.fromEntries(RETRYING_STATES.map((s) => [s, options.retryIntervalMs as number]));
    const execution = machine.run(current as never, {
      overrides: {
        taskResourceLocalHandlers: tasks as never,
        ...(retryIntervalOverrides ? { retryIntervalOverrides } : {}),
      },
    });
    let events = 0;
    const counting = (async () => {
      for await (const _ of execution.eventLogs) events++;
    })();
    const summary: LocalExecutionSummary = { execution: current.execution, events: 0, status: "succeeded" };
    try {
      await execution.result;
    } catch (err) {
      summary.status = "failed";
      summary.error = err instanceof Error ? err.message : String(err);
    }
    await counting.catch(() => undefined);
    summary.events = events;
    summaries.push(summary);
    options.onExecution?.(summary);
    if (summary.status === "failed") break;
  }
  return summaries;
}
