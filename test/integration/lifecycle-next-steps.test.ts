// Lifecycle commands that refuse say the step that works and record nothing, through the real
// bin: `move` after an aborted backfill points at `convert` (resume refuses an aborted run), a
// `move` with flags that do not fit leaves no history entry, and `rollback` of a migration that
// was never added is refused instead of recording it "rolled back".
import { conversionStatus, requestStop, startConversion } from "@ferry/core/backfill/control";
import { readMigrationState } from "@ferry/core/control/migration-state";
import { describe, expect, it } from "vitest";
import { ferryBin } from "../support/cli.ts";
import { endpoint } from "../support/dynamo.ts";
import { beat, clients, m1, markAdded, seededTable } from "../support/lifecycle.ts";

async function until(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function added(prefix: string) {
  const s = await seededTable(20, prefix);
  const ctx = s.ctx(m1, { guards: {} });
  await markAdded(ctx);
  await beat(ctx, Date.now());
  return { s, ctx, conn: ["--table", s.table, "--endpoint", endpoint()] };
}
const history = async (s: { controlTable: string }) =>
  (await readMigrationState({ doc: clients.doc, controlTable: s.controlTable, migrationId: m1.id }))?.history.map((h) => h.step);

describe("next steps and records of refused lifecycle commands", () => {
  it("move after an aborted backfill says to run convert (a new run), not resume", async () => {
    const { s, conn } = await added("ns-abort");
    const base = { clients, tableName: s.table, controlTable: s.controlTable, migration: m1 };
    // A slow run, aborted once it has started.
    const run = startConversion(base, { segments: 1, pageSize: 1, rate: 2 });
    await until(async () => (await conversionStatus(base).catch(() => undefined))?.run?.status === "running");
    await requestStop(base, "abort");
    expect((await run).run.status).toBe("aborted");

    const move = await ferryBin(["move", "0001", "--to", "v2", ...conn]);

    expect(move.code).toBe(3);
    expect(move.stderr).toMatch(/needs the backfill completed, but it is aborted\. Run `ferry convert 0001_workflow-context-index` to the end, or override/);
    expect(move.stderr).not.toMatch(/ferry resume/);
    const resume = await ferryBin(["resume", "0001", ...conn]);
    expect(resume).toMatchObject({ code: 2, stderr: expect.stringMatching(/aborted and cannot be resumed/) });
  });

  it("a move whose flags do not fit (--to v1 --percent 50) exits 2 and writes no history entry", async () => {
    const { s, conn } = await added("ns-usage");

    const move = await ferryBin(["move", "0001", "--to", "v1", "--percent", "50", ...conn]);

    expect(move).toMatchObject({ code: 2, stderr: expect.stringMatching(/--to v1 flips every tenant back to v1/) });
    expect(await history(s)).toEqual(["add"]);
  });

  it("rollback of a migration that was never added is refused (exit 3) and records nothing", async () => {
    const s = await seededTable(10, "ns-never");
    const conn = ["--table", s.table, "--endpoint", endpoint()];

    const rollback = await ferryBin(["rollback", "0001", ...conn]);

    expect(rollback.code).toBe(3);
    expect(rollback.stdout).not.toMatch(/Rolled back/);
    expect(rollback.stderr).toMatch(
      /^ferry: 0001_workflow-context-index was never added \(`ferry add` has no record of it\), so there is nothing to roll back; nothing was changed\./,
    );
    expect(await readMigrationState({ doc: clients.doc, controlTable: s.controlTable, migrationId: m1.id })).toBeUndefined();
  });
});
