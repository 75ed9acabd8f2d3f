// Every guard refuses its premature transition with its own error, a message saying how to
// satisfy it, and exit code 3 (through the real CLI for several); --force --reason overrides
// the forceable ones and the history keeps who, when and why.
import { DeleteCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { defineMigration } from "@ferry/core";
import { workflowCheckItems } from "@ferry/example-workflows/check-cases";
import {
  ConvertIncompleteError,
  DualWriteNotLiveError,
  DualWriteStillRunningError,
  ForceWithoutReasonError,
  NotFullyMovedError,
  PlanInvalidError,
  SoakNotOverError,
  StepOrderError,
  V1StillUsedError,
  VerifyNotCleanError,
} from "@ferry/core/lifecycle/guards";
import { addStep, convertStep, moveStep, removeStep, rollbackStep } from "@ferry/core/lifecycle/lifecycle";
import { minuteOf } from "@ferry/core/release/usage";
import { ControlSk, migrationPk } from "@ferry/core/control/keys";
import { describe, expect, it } from "vitest";
import { ferryBin as ferry } from "../support/cli.ts";
import { z } from "zod";
import { endpoint } from "../support/dynamo.ts";
import { beat, clients, derivedOf, m1, markAdded, seededTable, snapshot } from "../support/lifecycle.ts";

const DAY = 86_400_000;
const quiet = { verify: { recheckAfterMs: 0 } };
const fast = { settings: { segments: 2, rate: 100_000 } };

describe("guards, in core", () => {
  it("add needs a valid plan", async () => {
    const s = await seededTable(2, "gadd");
    const broken = defineMigration({
      id: "0099_broken",
      description: "derive throws",
      table: "Workflows",
      keys: { partitionKey: { name: "PK", type: "S" }, sortKey: { name: "SK", type: "S" } },
      source: { skPrefix: "WF#" },
      schema: z.object({}),
      derive: () => {
        throw new Error("boom");
      },
      checkItems: workflowCheckItems,
    });
    const attempt = addStep(s.ctx(broken));
    await expect(attempt).rejects.toBeInstanceOf(PlanInvalidError);
    await expect(attempt).rejects.toMatchObject({ exitCode: 3, message: expect.stringMatching(/needs a valid plan.*ferry check/) });
    expect(s.events.map((e) => `${e.step}:${e.event}:${e.guard}`)).toContain("add:refused:valid-plan");
  });

  it("convert needs add, then a fresh dual-write heartbeat; --force --reason overrides and is recorded", async () => {
    const s = await seededTable(20, "gconv");
    const ctx = s.ctx(m1);
    await expect(convertStep(ctx, fast)).rejects.toBeInstanceOf(StepOrderError);
    await markAdded(ctx);

    await expect(convertStep(ctx, fast)).rejects.toThrow(/never written a heartbeat/);
    await beat(ctx, s.time.now() - 6 * 60_000);
    const stale = convertStep(ctx, fast);
    await expect(stale).rejects.toBeInstanceOf(DualWriteNotLiveError);
    await expect(stale).rejects.toThrow(/last heartbeat is 6m old \(at most 5m allowed\).*ferry dual-write/s);
    await expect(convertStep(ctx, fast, { force: true })).rejects.toBeInstanceOf(ForceWithoutReasonError);

    const forced = await convertStep(ctx, fast, { force: true, reason: "consumer verified by hand" });
    expect(forced.completed).toBe(true);
    expect(forced.state.history.find((h) => h.step === "convert")).toMatchObject({
      actor: "ana",
      forced: ["dual-write-live"],
      reason: "consumer verified by hand",
    });
  });

  it("the first move to v2 needs the backfill completed and verify clean; --force --reason overrides; --to v1 is never refused", async () => {
    const s = await seededTable(20, "gmove");
    const ctx = s.ctx(m1);
    await markAdded(ctx);
    await expect(moveStep(ctx, { to: "v2", ...quiet })).rejects.toBeInstanceOf(ConvertIncompleteError);
    await expect(moveStep(ctx, { to: "v1" })).resolves.toMatchObject({ result: { after: { v2Percent: 0 } } });

    await beat(ctx, s.time.now());
    await convertStep(ctx, fast);
    const record = derivedOf(await snapshot(s.table), m1.id)[0] as { PK: string; SK: string };
    await clients.doc.send(new DeleteCommand({ TableName: s.table, Key: { PK: record.PK, SK: record.SK } }));
    const dirty = moveStep(ctx, { to: "v2", ...quiet });
    await expect(dirty).rejects.toBeInstanceOf(VerifyNotCleanError);
    await expect(dirty).rejects.toThrow(/1 missing, 0 orphan and 0 different.*ferry verify 0001_workflow-context-index --repair/s);

    const forced = await moveStep(ctx, { to: "v2", percent: 10, ...quiet }, { force: true, reason: "one record, repaired after" });
    expect(forced.state.history.at(-1)).toMatchObject({ step: "move", forced: ["verify-clean"], reason: "one record, repaired after" });
    expect(forced.state.verification).toMatchObject({ clean: false, missing: 1 });
    // Ramping further is not the first move: no guard.
    await expect(moveStep(ctx, { to: "v2", percent: 50 })).resolves.toMatchObject({ result: { guarded: false } });
  });

  it("remove needs v2 at 100%, the soak period over and v1 unused in the window", async () => {
    const s = await seededTable(20, "grm");
    const ctx = s.ctx(m1);
    await markAdded(ctx);
    await beat(ctx, s.time.now());
    await convertStep(ctx, fast);
    await moveStep(ctx, { to: "v2", percent: 50, ...quiet });
    await expect(removeStep(ctx)).rejects.toBeInstanceOf(NotFullyMovedError);

    await moveStep(ctx, { to: "v2", percent: 100 });
    s.time.advance(DAY);
    const early = removeStep(ctx);
    await expect(early).rejects.toBeInstanceOf(SoakNotOverError);
    await expect(early).rejects.toThrow(/soak period \(7d\).*6d to go.*--soak/s);

    s.time.advance(7 * DAY);
    const lastAt = s.time.now() - 3_600_000;
    await clients.doc.send(
      new UpdateCommand({
        TableName: s.controlTable,
        Key: { PK: migrationPk(m1.id), SK: ControlSk.usage("v1", minuteOf(lastAt)) },
        UpdateExpression: "SET #c = :n, lastAt = :at",
        ExpressionAttributeNames: { "#c": "count" },
        ExpressionAttributeValues: { ":n": 3, ":at": lastAt },
      }),
    );
    await expect(removeStep(ctx)).rejects.toBeInstanceOf(V1StillUsedError);
    const shorter = s.ctx(m1, { guards: { now: s.time.now, v1QuietWindowMs: 30 * 60_000 } });
    await expect(removeStep(shorter)).resolves.toMatchObject({ completed: true, state: { status: "removed" } });
  });

  it("rollback needs the dual-write stopped (or --force --reason)", async () => {
    const s = await seededTable(2, "grb");
    const ctx = s.ctx(m1);
    await markAdded(ctx);
    await beat(ctx, s.time.now() - 30_000);
    const refused = rollbackStep(ctx);
    await expect(refused).rejects.toBeInstanceOf(DualWriteStillRunningError);
    await expect(refused).rejects.toThrow(/dual-write stopped first.*records again/s);
    await expect(rollbackStep(ctx, {}, { force: true, reason: "consumer is wedged" })).resolves.toMatchObject({
      forced: ["dual-write-stopped"],
      state: { status: "rolled-back" },
    });
  });
});

describe("guards, through the CLI", () => {
  it("refuse with exit code 3 and say how to satisfy the guard; --events prints the transitions as JSON lines", async () => {
    const s = await seededTable(20, "gcli");
    const ctx = s.ctx(m1);
    await markAdded(ctx);
    await beat(ctx, Date.now());
    const conn = ["--table", s.table, "--endpoint", endpoint()];

    const [move, remove, rollback, flip] = await Promise.all([
      ferry(["move", "0001", "--to", "v2", ...conn]),
      ferry(["remove", "0001", "--confirm", ...conn]),
      ferry(["rollback", "0001", ...conn]),
      ferry(["move", "0001", "--to", "v1", "--actor", "bo", "--events", "--json", ...conn]),
    ]);

    expect(move).toMatchObject({ code: 3, stderr: expect.stringMatching(/move of 0001_workflow-context-index needs the backfill completed.*ferry convert/s) });
    expect(remove).toMatchObject({ code: 3, stderr: expect.stringMatching(/remove of .* needs v2 at 100%/) });
    expect(rollback).toMatchObject({ code: 3, stderr: expect.stringMatching(/needs the dual-write stopped first/) });
    expect(flip.code).toBe(0);
    const [event, ...rest] = flip.stdout.split("\n");
    expect(JSON.parse(event as string)).toMatchObject({ type: "ferry.step", migrationId: m1.id, step: "move", event: "start", actor: "bo" });
    expect(JSON.parse(rest.join("\n"))).toMatchObject({ split: "v1", audit: { action: "move", actor: "bo" } });
  });
});
