// `ferry convert` as a guarded lifecycle step: refused (exit 3) before `ferry add` and while
// the dual-write is not live, overridden with --force --reason (recorded in the history),
// --force without --reason a usage error (exit 2); a dry run and a live rate change of a
// running backfill are not steps and pass without the guards. Through the real bin for exit
// codes and stderr, in this process for the rest.
import { conversionStatus } from "@ferry/core/backfill/control";
import { BackfillLockedError, acquireLock } from "@ferry/core/backfill/lock";
import { DualWriteNotLiveError, ForceWithoutReasonError, StepOrderError } from "@ferry/core/lifecycle/guards";
import type { LifecycleContext } from "@ferry/core/lifecycle/phase";
import { readMigrationState } from "@ferry/core/control/migration-state";
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { captureOutput, ferryBin } from "../support/cli.ts";
import { convertCommand } from "../../packages/cli/src/commands/convert.ts";
import { endpoint } from "../support/dynamo.ts";
import { beat, clients, derivedOf, m1, markAdded, seededTable, snapshot } from "../support/lifecycle.ts";

const MINUTE = 60_000;

const { stdout } = captureOutput();

/** `ferry convert <args>` in this process. */
async function convert(...args: string[]): Promise<void> {
  const program = new Command("ferry").exitOverride();
  program.addCommand(convertCommand().exitOverride());
  await program.parseAsync(["convert", ...args], { from: "user" });
}
/** Every JSON value printed (events are one line each, the summary one pretty-printed write). */
const jsonLines = () => stdout.filter((chunk) => chunk.startsWith("{")).map((chunk) => JSON.parse(chunk));

async function table(prefix: string) {
  // Real time: the CLI's guards read the wall clock.
  const s = await seededTable(40, prefix);
  const ctx = s.ctx(m1, { guards: {} });
  return { s, ctx, conn: ["--table", s.table, "--endpoint", endpoint(), "--rate", "100000"] };
}
const history = async (ctx: LifecycleContext) =>
  (await readMigrationState({ doc: clients.doc, controlTable: ctx.controlTable, migrationId: m1.id }))?.history ?? [];
const runOf = async (ctx: LifecycleContext) => (await conversionStatus({ ...ctx, migration: m1 })).run;

describe("ferry convert's guards", () => {
  it("refuse before add and without a live dual-write with exit 3 and how to satisfy them; --force without --reason exits 2", async () => {
    const before = await table("cg-bin");
    const stale = await table("cg-bin2");
    await markAdded(stale.ctx);
    await beat(stale.ctx, Date.now() - 10 * MINUTE);

    const [notAdded, notLive, noReason] = await Promise.all([
      ferryBin(["convert", "0001", ...before.conn]),
      ferryBin(["convert", "0001", ...stale.conn]),
      ferryBin(["convert", "0001", ...stale.conn, "--force"]),
    ]);

    expect(notAdded).toMatchObject({
      code: 3,
      stderr: expect.stringMatching(/convert of 0001_workflow-context-index needs add first: run `ferry add 0001_workflow-context-index`/),
    });
    expect(notLive).toMatchObject({
      code: 3,
      stderr: expect.stringMatching(/convert of 0001_workflow-context-index needs the dual-write live, but its last heartbeat is 10(\.\d)?m old/),
    });
    expect(noReason).toMatchObject({ code: 2, stderr: expect.stringMatching(/--force needs --reason/) });
    // Nothing ran, nothing was recorded.
    for (const t of [before, stale]) {
      expect(await runOf(t.ctx)).toBeUndefined();
      expect(derivedOf(await snapshot(t.s.table), m1.id)).toEqual([]);
    }
    expect((await history(stale.ctx)).map((h) => h.step)).toEqual(["add"]);
  });

  it("refuses without any heartbeat, and with one older than --max-heartbeat-age, naming the dual-write guard", async () => {
    const { ctx, conn } = await table("cg-age");
    await markAdded(ctx);
    const never = convert("0001", ...conn);
    await expect(never).rejects.toBeInstanceOf(DualWriteNotLiveError);
    await expect(never).rejects.toMatchObject({
      exitCode: 3,
      guard: "dual-write-live",
      message: expect.stringMatching(/never written a heartbeat.*ferry dual-write/s),
    });

    await beat(ctx, Date.now() - 2 * MINUTE);
    await expect(convert("0001", ...conn, "--max-heartbeat-age", "1m")).rejects.toThrow(/last heartbeat is 2m old \(at most 1m allowed\)/);
    expect(await runOf(ctx)).toBeUndefined();
    // Within the default 5 minutes the same heartbeat counts as live.
    await convert("0001", ...conn, "--json");
    expect(jsonLines().at(-1)).toMatchObject({ status: "completed", totals: { converted: 40 } });
  });

  it("with --force --reason runs anyway, and the history keeps the overridden guard, the reason and the actor; --events prints the transitions", async () => {
    const { s, ctx, conn } = await table("cg-force");
    await markAdded(ctx);
    await expect(convert("0001", ...conn, "--force")).rejects.toBeInstanceOf(ForceWithoutReasonError);

    await convert("0001", ...conn, "--force", "--reason", "consumer checked by hand", "--actor", "bo", "--events", "--json");

    const lines = jsonLines();
    expect(lines.filter((l) => l.type === "ferry.step").map((l) => `${l.step}:${l.event}`)).toEqual(["convert:start", "convert:complete"]);
    expect(lines[0]).toMatchObject({ migrationId: m1.id, actor: "bo", forced: ["dual-write-live"], reason: "consumer checked by hand" });
    expect(lines.at(-1)).toMatchObject({ migrationId: m1.id, status: "completed", totals: { converted: 40 } });
    const steps = (await history(ctx)).filter((h) => h.step === "convert");
    expect(steps).toEqual([
      expect.objectContaining({ event: "start", actor: "bo", forced: ["dual-write-live"], reason: "consumer checked by hand" }),
      expect.objectContaining({ event: "complete", actor: "bo" }),
    ]);
    // Two contexts per workflow: two records each.
    expect(derivedOf(await snapshot(s.table), m1.id)).toHaveLength(lines.at(-1).totals.recordsWritten);
    expect(lines.at(-1).totals.recordsWritten).toBe(80);
  });

  it("a convert refused because another process runs the backfill records no start in the history", async () => {
    const { ctx, conn } = await table("cg-busy");
    await markAdded(ctx);
    await beat(ctx, Date.now());
    await convert("0001", ...conn, "--json");
    const before = await history(ctx);
    // Another process took the backfill's lease (a second convert elsewhere).
    const lease = await acquireLock({ doc: clients.doc, controlTable: ctx.controlTable, migrationId: m1.id, dryRun: false }, "elsewhere:42", {
      leaseMs: 60_000,
    });
    try {
      const second = convert("0001", ...conn);
      await expect(second).rejects.toBeInstanceOf(BackfillLockedError);
      await expect(second).rejects.toMatchObject({ exitCode: 3, message: expect.stringMatching(/already running: held by elsewhere:42/) });
      expect(await history(ctx)).toEqual(before);
    } finally {
      await lease.release();
    }
  });

  it("--force does not override the step order: before add it is still refused", async () => {
    const { ctx, conn } = await table("cg-order");
    const forced = convert("0001", ...conn, "--force", "--reason", "in a hurry");
    await expect(forced).rejects.toBeInstanceOf(StepOrderError);
    await expect(forced).rejects.toMatchObject({ exitCode: 3 });
    expect(await runOf(ctx)).toBeUndefined();
  });
});

describe("what convert does without the guards", () => {
  it("a dry run before add: scans, writes nothing, records no step", async () => {
    const { s, ctx, conn } = await table("cg-dry");
    await convert("0001", ...conn, "--dry-run", "--json");
    expect(jsonLines().at(-1)).toMatchObject({ status: "completed", settings: { dryRun: true }, totals: { converted: 40, recordsWritten: 0 } });
    expect(derivedOf(await snapshot(s.table), m1.id)).toEqual([]);
    expect(await history(ctx)).toEqual([]);
    expect(await runOf(ctx)).toBeUndefined();
  });

  it("a live rate change of a running backfill goes through even after the heartbeat went stale", async () => {
    const { s, ctx } = await table("cg-rate");
    await markAdded(ctx);
    await beat(ctx, Date.now());
    const conn = ["--table", s.table, "--endpoint", endpoint()];
    // 20 items/s: ~2 s for 40 items unless the rate changes.
    const running = convert("0001", ...conn, "--segments", "1", "--page-size", "5", "--rate", "20");
    const deadline = Date.now() + 10_000;
    while (((await conversionStatus({ ...ctx, migration: m1 }).catch(() => undefined))?.totals.scanned ?? 0) === 0) {
      if (Date.now() > deadline) throw new Error("the backfill did not start");
      await new Promise((r) => setTimeout(r, 25));
    }
    await beat(ctx, Date.now() - 10 * MINUTE);

    await convert("0001", ...conn, "--rate", "100000");
    expect(stdout.join("")).toMatch(/Changed the rate of the running backfill of 0001_workflow-context-index .* to 100,000 items\/s/);
    await running;
    expect((await runOf(ctx))?.status).toBe("completed");
    // One step: the rate change is not one.
    expect((await history(ctx)).filter((h) => h.step === "convert").map((h) => h.event)).toEqual(["start", "complete"]);
  });
});
