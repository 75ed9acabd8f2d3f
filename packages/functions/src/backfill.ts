/**
 * The backfill state machine's Lambda task handlers: thin wrappers around the task
 * functions the local runner uses too (createBackfillTasks), with AWS dependencies from
 * the environment. Each export is one Task state's function (see backfill.asl.json).
 */
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { createDynamoClients, type Migration } from "@ferry/core";
import { executionName } from "@ferry/core/backfill/executions";
import { type BackfillExecutionInput, type BackfillTasks, createBackfillTasks } from "@ferry/core/backfill/tasks";
import { loadMigrationFrom } from "@ferry/core/definition/load";
// Static, so esbuild bundles every migration into the deployed function (see scripts/migration-registry.ts).
import { MIGRATIONS } from "../../../migrations/index.ts";

/**
 * Continuations have deterministic names (executionName): a retried ContinueAsNewExecution
 * task starts the same execution again, which Step Functions refuses with ExecutionAlreadyExists.
 */
export { executionName };

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set on the backfill function; the stack sets it (stacks/Backfill.ts).`);
  return value;
}

let tasks: BackfillTasks | undefined;
const migrations = new Map<string, Promise<Migration>>();

/** Created once per Lambda container and reused across invocations. */
function backfillTasks(): BackfillTasks {
  if (tasks) return tasks;
  const clients = createDynamoClients({});
  const sfn = new SFNClient({});
  tasks = createBackfillTasks({
    doc: clients.doc,
    loadMigration: (id) => {
      let loaded = migrations.get(id);
      if (!loaded) {
        loaded = loadMigrationFrom(id, MIGRATIONS);
        // A failed load is not cached: the next invocation tries again.
        loaded.catch(() => migrations.delete(id));
        migrations.set(id, loaded);
      }
      return loaded;
    },
    startExecution: async (input: BackfillExecutionInput) => {
      try {
        await sfn.send(
          new StartExecutionCommand({
            stateMachineArn: requiredEnv("FERRY_STATE_MACHINE_ARN"),
            name: executionName(input.runId, input.execution),
            input: JSON.stringify(input),
          }),
        );
      } catch (err) {
        // Already started by an earlier attempt of this task: that is the goal.
        if (!(err instanceof ExecutionAlreadyExists)) throw err;
      }
    },
  });
  return tasks;
}

type TaskInput<K extends keyof BackfillTasks> = Parameters<BackfillTasks[K]>[0];

export const planSegments = (event: TaskInput<"PlanSegments">) => backfillTasks().PlanSegments(event);
export const page = (event: TaskInput<"Page">) => backfillTasks().Page(event);
export const finish = (event: TaskInput<"Finish">) => backfillTasks().Finish(event);
export const continueAsNew = (event: TaskInput<"ContinueAsNewExecution">) => backfillTasks().ContinueAsNewExecution(event);
export const recordFailure = (event: TaskInput<"RecordFailure">) => backfillTasks().RecordFailure(event);
