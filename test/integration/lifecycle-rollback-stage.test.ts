// Rollback on a deployed stage: the backfill runs there as a Step Functions execution, which
// only StopExecution ends (the stage runtime asks the pages to abort first, then stops it
// after its grace period). Step Functions is answered at the SFN client's middleware (an
// execution stays RUNNING until stopped), the tables are on DynamoDB Local, and the stage's
// outputs come from a temp outputs file (FERRY_SST_OUTPUTS), as in backfill-stage.test.ts.
import { writeFileSync } from "node:fs";
import { ExecutionAlreadyExists, ExecutionDoesNotExist, SFNClient } from "@aws-sdk/client-sfn";
import { resolveRegion } from "@ferry/core";
import { conversionStatus } from "@ferry/core/backfill/control";
import { executionArn } from "@ferry/core/backfill/executions";
import { readRun } from "@ferry/core/backfill/state";
import { convertStep } from "@ferry/core/lifecycle/lifecycle";
import { readMigrationState } from "@ferry/core/control/migration-state";
import { BackfillRunsOnStageError } from "@ferry/core/lifecycle/phases/convert";
import { describe, expect, it } from "vitest";
import { stageCli } from "../support/cli.ts";
import { stageClients } from "../../packages/cli/src/commands/open-migration.ts";
import { convertCommand } from "../../packages/cli/src/commands/convert.ts";
import { rollbackCommand } from "../../packages/cli/src/commands/rollback.ts";
import { endpoint } from "../support/dynamo.ts";
import { beat, clients, derivedOf, m1, markAdded, seededTable, snapshot } from "../support/lifecycle.ts";
import { interceptCommands } from "../support/sdk-intercept.ts";

const MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:dev-ferry-backfill";
const without = (items: Record<string, unknown>[], migrationId: string) => items.filter((i) => !derivedOf([i], migrationId).length);

/** Step Functions at the middleware: executions stay RUNNING until StopExecution; each stop notes the run's pending request. */
function fakeStepFunctions(controlTable: string) {
  const sfn = new SFNClient({ region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
  const executions = new Map<string, { status: string; startDate: Date }>();
  const requestedAtStop: (string | undefined)[] = [];
  const calls = interceptCommands(sfn, {
    StartExecutionCommand: (input) => {
      const arn = executionArn(input.stateMachineArn as string, input.name as string);
      if (executions.has(arn)) throw new ExecutionAlreadyExists({ message: `Execution Already Exists: '${arn}'`, $metadata: {} });
      executions.set(arn, { status: "RUNNING", startDate: new Date() });
      return { executionArn: arn, startDate: new Date() };
    },
    DescribeExecutionCommand: (input) => {
      const execution = executions.get(input.executionArn as string);
      if (!execution) throw new ExecutionDoesNotExist({ message: "Execution Does Not Exist", $metadata: {} });
      return { executionArn: input.executionArn, status: execution.status, startDate: execution.startDate };
    },
    StopExecutionCommand: async (input) => {
      const execution = executions.get(input.executionArn as string);
      if (!execution) throw new ExecutionDoesNotExist({ message: "Execution Does Not Exist", $metadata: {} });
      requestedAtStop.push((await readRun({ doc: clients.doc, controlTable, migrationId: m1.id }))?.requested);
      execution.status = "ABORTED";
      return { stopDate: new Date() };
    },
  });
  return { sfn, calls, requestedAtStop, stops: () => calls.filter((c) => c.command === "StopExecutionCommand").map((c) => c.input.executionArn) };
}

describe("ferry rollback --stage", () => {
  const original = stageClients.sfn;
  const { ferry, lastJson } = stageCli(
    "ferry-rollback-stage",
    () => [convertCommand(), rollbackCommand()],
    () => {
      stageClients.sfn = original;
    },
  );

  it("stops the running execution (abort requested, then StopExecution), deletes exactly the derived records, marks it rolled back; twice is harmless", async () => {
    // Arrange: converted once (records on the table), then a second run started on the stage and still RUNNING.
    const s = await seededTable(40, "rbstage");
    const ctx = s.ctx(m1, { guards: {} });
    await markAdded(ctx);
    await beat(ctx, Date.now());
    await convertStep(ctx, { settings: { segments: 2, rate: 100_000 } });
    const before = await snapshot(s.table);
    expect(derivedOf(before, m1.id)).toHaveLength(80);
    writeFileSync(
      process.env.FERRY_SST_OUTPUTS as string,
      JSON.stringify({
        "dev-ferry-Storage": {
          TableName: s.table,
          TableArn: `arn:aws:dynamodb:${resolveRegion()}:000000000000:table/${s.table}`,
          ControlTableName: s.controlTable,
        },
        "dev-ferry-Backfill": { BackfillStateMachineArn: MACHINE },
      }),
    );
    const fake = fakeStepFunctions(s.controlTable);
    stageClients.sfn = () => fake.sfn;
    await ferry("convert", "0001", "--stage", "dev", "--json");
    const { executionArn: running } = lastJson();
    expect(running).toMatch(/:execution:dev-ferry-backfill:.+-1$/);
    // The dual-write was stopped since (rollback's own guard): its heartbeat aged.
    await beat(ctx, Date.now() - 10 * 60_000);

    // Without --stage the execution cannot be stopped: refused before anything is recorded or deleted.
    const location = { doc: clients.doc, controlTable: s.controlTable, migrationId: m1.id };
    const stateBefore = await readMigrationState(location);
    const local = ferry("rollback", "0001", "--table", s.table, "--control-table", s.controlTable, "--endpoint", endpoint());
    await expect(local).rejects.toBeInstanceOf(BackfillRunsOnStageError);
    await expect(local).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringMatching(/runs on stage dev.*`ferry rollback 0001_workflow-context-index --stage dev`/),
    });
    expect(fake.stops()).toEqual([]);
    expect(derivedOf(await snapshot(s.table), m1.id)).toHaveLength(80);
    expect(await readMigrationState(location)).toEqual(stateBefore);

    // Act
    await ferry("rollback", "0001", "--stage", "dev", "--json");

    // Assert
    const rolled = lastJson();
    expect(rolled).toMatchObject({ status: "rolled-back", again: false, stopped: false });
    expect(rolled.phases.convert).toEqual({ backfill: "aborted", was: "running", execution: running, executionStatus: "ABORTED" });
    expect(rolled.phases.add).toMatchObject({ deleted: 80 });
    expect(fake.stops()).toEqual([running]);
    expect(fake.requestedAtStop).toEqual(["abort"]);
    expect((await conversionStatus({ ...ctx, migration: m1 })).run?.status).toBe("aborted");
    expect(await snapshot(s.table)).toEqual(without(before, m1.id));
    const state = await readMigrationState({ doc: clients.doc, controlTable: s.controlTable, migrationId: m1.id });
    expect(state?.status).toBe("rolled-back");

    // Twice: nothing left to stop or delete.
    await ferry("rollback", "0001", "--stage", "dev", "--json");
    expect(lastJson()).toMatchObject({ status: "rolled-back", again: true, phases: { convert: { backfill: "aborted" }, add: { deleted: 0 } } });
    expect(fake.stops()).toEqual([running]);
    expect(await snapshot(s.table)).toEqual(without(before, m1.id));
  });
});
