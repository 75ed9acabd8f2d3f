// The stage runtime without AWS: Step Functions is answered at the SFN client's middleware.
// Its StartExecution runs the given input through the local interpreter (the same ASL file
// the stage deploys), so the test checks that the input the driver sends is exactly what
// the state machine needs; the control table and the items are on DynamoDB Local.
import { ExecutionAlreadyExists, ExecutionDoesNotExist, SFNClient } from "@aws-sdk/client-sfn";
import { batchPutAll, generateWorkflows, loadMigration } from "@ferry/core";
import { conversionStatus } from "@ferry/core/backfill/control";
import { executionArn } from "@ferry/core/backfill/executions";
import { runBackfillExecutions } from "@ferry/core/backfill/local-runner";
import { BackfillExecutionRunningError, stageRuntime } from "@ferry/core/backfill/remote";
import { ensureControlTable } from "@ferry/core/state/control-table";
import { describe, expect, it } from "vitest";
import { freshPlainTable, testClients } from "../support/dynamo.ts";
import { invariantDiff } from "../support/invariant.ts";
import { interceptCommands } from "../support/sdk-intercept.ts";

const m1 = await loadMigration("0001");
const MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:dev-ferry-backfill";

async function seeded(workflows: number) {
  const clients = testClients();
  const table = await freshPlainTable(clients, "bfs");
  await batchPutAll(clients.doc, table, generateWorkflows({ tenants: 2, workflows: workflows / 2, contexts: 2, pool: 50, tasks: 2, itemKb: 1 }));
  const ctx = { clients, tableName: table, controlTable: `${table}.ferry`, migration: m1 };
  // On a stage the Storage stack deploys the control table.
  await ensureControlTable(clients.raw, ctx.controlTable);
  return ctx;
}

interface FakeExecution {
  status: string;
  input: Record<string, unknown>;
  startDate: Date;
  done?: Promise<void>;
}

/**
 * Step Functions, faked at the middleware. With `interpret`, an execution runs its input in
 * the local interpreter and ends SUCCEEDED or FAILED; without, it stays RUNNING until stopped.
 */
function fakeStepFunctions(ctx: Awaited<ReturnType<typeof seeded>>, interpret: boolean) {
  const sfn = new SFNClient({ region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
  const executions = new Map<string, FakeExecution>();
  const calls = interceptCommands(sfn, {
    StartExecutionCommand: (input) => {
      const arn = executionArn(input.stateMachineArn as string, input.name as string);
      if (executions.has(arn)) throw new ExecutionAlreadyExists({ message: `Execution Already Exists: '${arn}'`, $metadata: {} });
      const execution: FakeExecution = { status: "RUNNING", input: JSON.parse(input.input as string), startDate: new Date() };
      if (interpret) {
        execution.done = runBackfillExecutions({ doc: ctx.clients.doc, loadMigration: async () => m1 }, execution.input as never, { retryIntervalMs: 0 }).then(
          (summaries) => void (execution.status = summaries.at(-1)?.status === "succeeded" ? "SUCCEEDED" : "FAILED"),
        );
      }
      executions.set(arn, execution);
      return { executionArn: arn, startDate: execution.startDate };
    },
    DescribeExecutionCommand: (input) => {
      const execution = executions.get(input.executionArn as string);
      if (!execution) throw new ExecutionDoesNotExist({ message: "Execution Does Not Exist", $metadata: {} });
      return { executionArn: input.executionArn, status: execution.status, startDate: execution.startDate };
    },
    StopExecutionCommand: (input) => {
      const execution = executions.get(input.executionArn as string);
      if (!execution) throw new ExecutionDoesNotExist({ message: "Execution Does Not Exist", $metadata: {} });
      execution.status = "ABORTED";
      return { stopDate: new Date() };
    },
  });
  const runtime = stageRuntime({ stage: "dev", stateMachineArn: MACHINE, sfn, abortGraceMs: 300, pollMs: 50 });
  return { runtime, calls, executions };
}

const started = (calls: { command: string; input: Record<string, unknown> }[]) => calls.filter((c) => c.command === "StartExecutionCommand");

describe("the stage runtime", () => {
  it("starts the deployed state machine with the checkpoint's address as input, records the ARN, and the input converts the table", async () => {
    const ctx = await seeded(400);
    const { runtime, calls, executions } = fakeStepFunctions(ctx, true);

    const outcome = await runtime.start(ctx, { segments: 2, pageSize: 50, rate: 1e6 });

    const [start] = started(calls);
    expect(start?.input).toMatchObject({ stateMachineArn: MACHINE, name: `${outcome.run.runId}-1` });
    expect(JSON.parse(start?.input.input as string)).toEqual({
      migrationId: m1.id,
      table: ctx.tableName,
      controlTable: ctx.controlTable,
      runId: outcome.run.runId,
      execution: 1,
      dryRun: false,
    });
    const arn = `arn:aws:states:us-east-1:123456789012:execution:dev-ferry-backfill:${outcome.run.runId}-1`;
    expect(outcome.executionArn).toBe(arn);
    expect(outcome.result).toBeUndefined(); // returns once started
    expect((await conversionStatus(ctx)).run?.runtime).toEqual({ kind: "stage", stage: "dev", stateMachineArn: MACHINE, executionArn: arn });

    await executions.get(arn)?.done;
    const status = await runtime.describe(ctx);
    expect(status).toMatchObject({ runtime: "stage", active: false, stale: false, execution: { arn, status: "SUCCEEDED" }, run: { status: "completed" } });
    expect(status.totals.converted).toBe(400);
    expect(await invariantDiff(ctx.clients, ctx.tableName, m1)).toMatchObject({ missing: [], orphans: [], different: [] });
  });

  it("refuses a second start while the execution runs, and describes it as active", async () => {
    const ctx = await seeded(20);
    const { runtime } = fakeStepFunctions(ctx, false);
    const first = await runtime.start(ctx, { rate: 1e6 });
    const status = await runtime.describe(ctx);
    expect(status).toMatchObject({ active: true, execution: { arn: first.executionArn, status: "RUNNING" }, run: { status: "running" } });
    await expect(runtime.start(ctx, { rate: 1e6 }, { restart: true })).rejects.toBeInstanceOf(BackfillExecutionRunningError);
  });

  it("pauses through the run record, then resumes with a new execution from the checkpoints", async () => {
    const ctx = await seeded(600);
    const { runtime, calls, executions } = fakeStepFunctions(ctx, true);
    // A slow rate so the pause lands mid-run: 4 segments of 25 items at 400/s take ~0.25 s a page.
    const first = await runtime.start(ctx, { segments: 4, pageSize: 25, rate: 400 });
    await new Promise((r) => setTimeout(r, 400));
    const paused = await runtime.stop(ctx, "pause");
    expect(paused.requested).toBe("pause");
    await executions.get(first.executionArn as string)?.done;
    const mid = await runtime.describe(ctx);
    expect(mid.run?.status).toBe("paused");
    expect(mid.totals.scanned).toBeGreaterThan(0);
    expect(mid.totals.scanned).toBeLessThan(600);

    const resumed = await runtime.resume(ctx, { rate: 1e6 });
    const second = started(calls)[1];
    expect(second?.input.name).toBe(`${first.run.runId}-2`);
    expect(JSON.parse(second?.input.input as string)).toMatchObject({ runId: first.run.runId, execution: 2 });
    await executions.get(resumed.executionArn as string)?.done;
    const end = await runtime.describe(ctx);
    expect(end.run?.status).toBe("completed");
    expect(await invariantDiff(ctx.clients, ctx.tableName, m1)).toMatchObject({ missing: [], orphans: [], different: [] });
  });

  it("aborts with StopExecution when the execution does not end within the grace period", async () => {
    const ctx = await seeded(20);
    const { runtime, calls } = fakeStepFunctions(ctx, false);
    const first = await runtime.start(ctx, { rate: 1e6 });
    const aborted = await runtime.stop(ctx, "abort");
    expect(calls.filter((c) => c.command === "StopExecutionCommand").map((c) => c.input)).toEqual([
      { executionArn: first.executionArn, error: "FerryAbort", cause: "ferry abort: the backfill was aborted" },
    ]);
    expect(aborted.status).toBe("aborted");
    expect(await runtime.describe(ctx)).toMatchObject({ active: false, stale: false, execution: { status: "ABORTED" }, run: { status: "aborted" } });
  });

  it("shows an execution that ended behind the run's back as stale, and resume starts it again", async () => {
    const ctx = await seeded(20);
    const { runtime, executions } = fakeStepFunctions(ctx, false);
    const first = await runtime.start(ctx, { rate: 1e6 });
    // E.g. stopped in the console, or timed out: nothing ran Finish or RecordFailure.
    (executions.get(first.executionArn as string) as FakeExecution).status = "TIMED_OUT";
    expect(await runtime.describe(ctx)).toMatchObject({ active: false, stale: true, execution: { status: "TIMED_OUT" }, run: { status: "running" } });
    const again = await runtime.resume(ctx, {});
    expect(again.executionArn).toMatch(/-2$/);
    expect((await runtime.describe(ctx)).active).toBe(true);
  });
});
