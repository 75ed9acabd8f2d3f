// Every refusal is one error family (RefusalError, exit code 3) and emits a `refused` event
// naming its condition, whether a guard refused the step or its start found something in the
// way: a table whose stream is off, a backfill another process runs, an unfinished run.
import { BackfillUnfinishedError } from "@ferry/core/backfill/control";
import { BackfillLockedError, acquireLock } from "@ferry/core/backfill/lock";
import { updateRun } from "@ferry/core/backfill/state";
import { RefusalError } from "@ferry/core/errors";
import { addStep, convertStep } from "@ferry/core/lifecycle/lifecycle";
import { StreamNotEnabledError } from "@ferry/core/lifecycle/phases/add";
import { describe, expect, it } from "vitest";
import { ferryBin } from "../support/cli.ts";
import { endpoint } from "../support/dynamo.ts";
import { beat, clients, m1, markAdded, seededTable } from "../support/lifecycle.ts";

const refusedEvents = (events: { event: string; step: string; guard?: string }[]) =>
  events.filter((e) => e.event === "refused").map((e) => `${e.step}:${e.guard}`);

describe("refusals", () => {
  it("add on a table without a stream is refused (exit 3) and emits refused with the stream-enabled condition", async () => {
    const s = await seededTable(10, "rf-stream");
    const ctx = s.ctx(m1);

    const refused = addStep(ctx);

    await expect(refused).rejects.toBeInstanceOf(StreamNotEnabledError);
    await expect(refused).rejects.toBeInstanceOf(RefusalError);
    await expect(refused).rejects.toMatchObject({ exitCode: 3, guard: "stream-enabled" });
    expect(refusedEvents(s.events)).toEqual(["add:stream-enabled"]);
  });

  it("a convert while another process holds the backfill's lease emits refused, like a guard", async () => {
    const s = await seededTable(20, "rf-lock");
    const ctx = s.ctx(m1, { guards: {} });
    await markAdded(ctx);
    await beat(ctx, Date.now());
    await convertStep(ctx, { settings: { rate: 100_000 } });
    const lease = await acquireLock({ doc: clients.doc, controlTable: ctx.controlTable, migrationId: m1.id, dryRun: false }, "elsewhere:42", {
      leaseMs: 60_000,
    });
    try {
      const second = convertStep(ctx, { settings: { rate: 100_000 } });

      await expect(second).rejects.toBeInstanceOf(BackfillLockedError);
      await expect(second).rejects.toMatchObject({ exitCode: 3, guard: "backfill-not-running" });
      expect(refusedEvents(s.events)).toEqual(["convert:backfill-not-running"]);
    } finally {
      await lease.release();
    }
  });

  it("a convert with an unfinished run in the way exits 3 (a refusal, no longer a usage error) and --events prints the refusal", async () => {
    const s = await seededTable(20, "rf-unfinished");
    const ctx = s.ctx(m1, { guards: {} });
    await markAdded(ctx);
    await beat(ctx, Date.now());
    await convertStep(ctx, { settings: { rate: 100_000 } });
    await updateRun({ doc: clients.doc, controlTable: ctx.controlTable, migrationId: m1.id }, (run) => ({ ...run, status: "paused" }));

    const inProcess = convertStep(ctx, { settings: { rate: 100_000 } });
    await expect(inProcess).rejects.toBeInstanceOf(BackfillUnfinishedError);
    const bin = await ferryBin(["convert", "0001", "--table", s.table, "--endpoint", endpoint(), "--events"]);

    expect(bin.code).toBe(3);
    expect(bin.stderr).toMatch(/is paused, not finished.*`ferry resume`/s);
    const events = bin.stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l));
    expect(events).toEqual([expect.objectContaining({ step: "convert", event: "refused", guard: "backfill-finished" })]);
  });
});
