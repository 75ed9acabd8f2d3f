// A guard decides from what it reads. A read that fails for any reason but a missing table
// must stop the command, never pass the guard as if nothing were there: here the rollback's
// "dual-write stopped" guard, whose pass deletes records a running dual-write writes again.
import { readMigrationState } from "@ferry/core/control/migration-state";
import { convertStep, rollbackStep } from "@ferry/core/lifecycle/lifecycle";
import { describe, expect, it } from "vitest";
import { testClients } from "../support/dynamo.ts";
import { beat, derivedOf, m1, markAdded, seededTable, snapshot } from "../support/lifecycle.ts";

/** Clients whose GetItem of dual-write heartbeats is denied, as IAM would deny it. */
function heartbeatReadsDenied() {
  const clients = testClients();
  clients.raw.middlewareStack.add(
    (next, context) => async (args) => {
      const key = (args.input as { Key?: { SK?: { S?: string } | string } }).Key?.SK;
      const sk = typeof key === "string" ? key : key?.S;
      if (context.commandName === "GetItemCommand" && sk?.startsWith("heartbeat#")) {
        throw Object.assign(new Error("User: arn:aws:iam::123456789012:user/test is not authorized to perform: dynamodb:GetItem"), {
          name: "AccessDeniedException",
          $fault: "client",
          $metadata: { httpStatusCode: 400 },
        });
      }
      return next(args);
    },
    { step: "initialize", priority: "high", name: "ferryTestHeartbeatDenied" },
  );
  return clients;
}

describe("guards that read", () => {
  it("rollback: a heartbeat read that is denied stops the rollback; it does not pass for a stopped dual-write", async () => {
    // Arrange: an added migration whose dual-write beat a moment ago, and its derived records.
    const s = await seededTable(10, "grread");
    const ctx = s.ctx(m1);
    await markAdded(ctx);
    await beat(ctx, s.time.now());
    await convertStep(ctx, { settings: { segments: 2, rate: 100_000 } });
    const before = await snapshot(s.table);
    expect(derivedOf(before, m1.id).length).toBeGreaterThan(0);

    // Act: roll back with a client that may not read the heartbeat.
    const denied = heartbeatReadsDenied();
    const rollback = rollbackStep({ ...ctx, clients: denied }, {}, { force: false });

    // Assert: the denial surfaces; nothing was deleted and the state is not rolling back.
    await expect(rollback).rejects.toMatchObject({ name: "AccessDeniedException" });
    expect(await snapshot(s.table)).toEqual(before);
    const state = await readMigrationState({ doc: ctx.clients.doc, controlTable: s.controlTable, migrationId: m1.id });
    expect(state?.status ?? "active").toBe("active");
    denied.raw.destroy();
  });
});
