// The stage runtime without AWS: Step Functions is answered at the SFN client's middleware.
// Its StartExecution runs the given input through the local interpreter (the same ASL file
// the stage deploys), so the test checks that the input the driver sends is exactly what
// the state machine needs; the control table and the items are on DynamoDB Local. The CLI
// part reads the stage's outputs from a temp outputs file (FERRY_SST_OUTPUTS).
import { writeFileSync } from "node:fs";
import { ExecutionAlreadyExists, ExecutionDoesNotExist, SFNClient } from "@aws-sdk/client-sfn";
import { batchPutAll, loadMigration, resolveRegion } from "@ferry/core";
import { generateWorkflows } from "@ferry/example-workflows";
import { conversionStatus } from "@ferry/core/backfill/control";
import { executionArn } from "@ferry/core/backfill/executions";
import { runBackfillExecutions } from "@ferry/core/backfill/local-runner";
import { BackfillExecutionRunningError, stageRuntime } from "@ferry/core/backfill/remote";
import { StageNotDeployedError } from "@ferry/core/stage/outputs";
import { lifecycleContext } from "@ferry/core/lifecycle/lifecycle";
import { readMigrationState } from "@ferry/core/control/migration-state";
import { ensureControlTable } from "@ferry/core/control/control-table";
import { describe, expect, it, vi } from "vitest";
import { stageCli } from "../support/cli.ts";
import { abortCommand } from "../../packages/cli/src/commands/abort.ts";
import { stageClients } from "../../packages/cli/src/commands/open-migration.ts";
import { convertCommand } from "../../packages/cli/src/commands/convert.ts";
import { pauseCommand } from "../../packages/cli/src/commands/pause.ts";
import { resumeCommand } from "../../packages/cli/src/commands/resume.ts";
import { statusCommand } from "../../packages/cli/src/commands/status.ts";
import { endpoint, freshPlainTable, testClients } from "../support/dynamo.ts";
import { invariantDiff } from "../support/invariant.ts";
import { beat, markAdded } from "../support/lifecycle.ts";
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
          (summaries) => {
            execution.status = summaries.at(-1)?.status === "succeeded" ? "SUCCEEDED" : "FAILED";
          },
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
  return { sfn, runtime, calls, executions };
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
    // After its first checkpoint: a loaded machine can take longer than the pace to start the run.
    await vi.waitUntil(
      async () =>
        (await runtime.describe(ctx).then(
          (s) => s.totals.scanned,
          () => 0,
        )) > 0,
      { timeout: 60_000, interval: 20 },
    );
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

describe("the commands with --stage", () => {
  const original = stageClients.sfn;
  const { stdout, ferry, lastJson } = stageCli(
    "ferry-stage-cli",
    () => [convertCommand(), pauseCommand(), abortCommand(), resumeCommand(), statusCommand()],
    () => {
      stageClients.sfn = original;
    },
  );

  /** The stage's outputs file names the seeded tables and MACHINE; convert's guards pass (added, dual-write live). */
  async function deployed(ctx: Awaited<ReturnType<typeof seeded>>): Promise<void> {
    const arn = `arn:aws:dynamodb:${resolveRegion()}:000000000000:table/${ctx.tableName}`;
    writeFileSync(
      process.env.FERRY_SST_OUTPUTS as string,
      JSON.stringify({
        "dev-ferry-Storage": { TableName: ctx.tableName, TableArn: arn, ControlTableName: ctx.controlTable },
        "dev-ferry-Backfill": { BackfillStateMachineArn: MACHINE },
      }),
    );
    const lifecycle = lifecycleContext({ ...ctx, actor: "ana" });
    await markAdded(lifecycle);
    await beat(lifecycle, Date.now());
  }
  const convertHistory = async (ctx: Awaited<ReturnType<typeof seeded>>) =>
    ((await readMigrationState({ doc: ctx.clients.doc, controlTable: ctx.controlTable, migrationId: m1.id }))?.history ?? [])
      .filter((h) => h.step === "convert")
      .map((h) => `${h.event ?? "start"} by ${h.actor}`);

  it("says the stage is not deployed and what to run, with exit code 2, when its outputs are nowhere", async () => {
    // No outputs file, and a CloudFormation endpoint that refuses at once instead of AWS.
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_CLOUDFORMATION: "http://127.0.0.1:9",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      AWS_MAX_ATTEMPTS: "1",
    });
    const failing = ferry("status", "0001", "--stage", "qa");
    await expect(failing).rejects.toBeInstanceOf(StageNotDeployedError);
    await expect(failing).rejects.toMatchObject({ exitCode: 2 });
    await expect(failing).rejects.toThrow(/Stage "qa" is not deployed.*qa-ferry-Storage.*outputs\.json \(missing or empty\).*npx sst deploy --stage qa/);
    await expect(ferry("convert", "0001", "--stage", "qa", "--endpoint", endpoint())).rejects.toThrow(/--stage qa and --endpoint disagree/);
  });

  it("convert starts the execution and returns, status describes it, abort stops it", async () => {
    const ctx = await seeded(20);
    await deployed(ctx);
    const fake = fakeStepFunctions(ctx, false);
    stageClients.sfn = () => fake.sfn;

    await ferry("convert", "0001", "--stage", "dev", "--actor", "bo", "--json");
    const started = lastJson();
    expect(started).toMatchObject({
      migrationId: m1.id,
      stage: "dev",
      status: "running",
      executionArn: expect.stringMatching(/:execution:dev-ferry-backfill:.+-1$/),
    });
    expect(fake.calls.filter((c) => c.command === "StartExecutionCommand")).toHaveLength(1);
    // Started, not complete: the step's start only.
    expect(await convertHistory(ctx)).toEqual(["start by bo"]);

    await ferry("status", "0001", "--stage", "dev", "--json");
    expect(lastJson()).toMatchObject({ stage: "dev", table: ctx.tableName, backfill: { runtime: "stage", active: true, execution: { status: "RUNNING" } } });

    stdout.length = 0;
    await ferry("status", "0001", "--stage", "dev");
    expect(stdout.join("")).toMatch(/execution\s+RUNNING arn:aws:states:/);

    // The execution never ends by itself here: abort stops it after its grace period.
    stdout.length = 0;
    await ferry("abort", "0001", "--stage", "dev");
    expect(fake.calls.filter((c) => c.command === "StopExecutionCommand").map((c) => c.input.executionArn)).toEqual([started.executionArn]);
    expect(stdout.join("")).toMatch(
      /Stopped the backfill of 0001_workflow-context-index \(running as execution arn:aws:states:\S+\); it is now aborted\. Records written so far stay/,
    );
    await ferry("status", "0001", "--stage", "dev", "--json");
    expect(lastJson()).toMatchObject({ backfill: { active: false, run: { status: "aborted" }, execution: { status: "ABORTED" } } });
  });

  it("convert --wait follows the execution to its end and records the step complete; the guard refuses before StartExecution", async () => {
    const ctx = await seeded(40);
    await deployed(ctx);
    const fake = fakeStepFunctions(ctx, true);
    stageClients.sfn = () => fake.sfn;

    // A stale heartbeat: refused through the same guard as locally, nothing started on the stage.
    await beat(lifecycleContext({ ...ctx, actor: "ana" }), Date.now() - 10 * 60_000);
    await expect(ferry("convert", "0001", "--stage", "dev")).rejects.toMatchObject({
      exitCode: 3,
      message: expect.stringMatching(/needs the dual-write live/),
    });
    expect(fake.calls).toEqual([]);

    await beat(lifecycleContext({ ...ctx, actor: "ana" }), Date.now());
    await ferry("convert", "0001", "--stage", "dev", "--wait", "--json", "--rate", "1000000");
    expect(lastJson()).toMatchObject({ migrationId: m1.id, status: "completed", totals: { converted: 40 } });
    expect(await convertHistory(ctx)).toEqual([expect.stringMatching(/^start by /), expect.stringMatching(/^complete by /)]);
    expect(await invariantDiff(ctx.clients, ctx.tableName, m1)).toMatchObject({ missing: [], orphans: [], different: [] });
  });
});
