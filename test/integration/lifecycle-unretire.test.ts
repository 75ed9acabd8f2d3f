// The way back after remove, through the real bin: `ferry move --to v1` after remove points at
// `ferry unretire`; unretire is refused while the cleanup's removed data is not back, passes
// once `ferry restore` brought it back (restore records itself), is kept in the history with
// actor and reason, and then v1 serves again: move --to v1 and rollback work, and a later
// remove takes a new backup.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { convertStep, moveStep, removeStep } from "@ferry/core/lifecycle/lifecycle";
import { readMigrationState } from "@ferry/core/control/migration-state";
import { readRelease } from "@ferry/core/release/store";
import { describe, expect, it } from "vitest";
import { ferryBin } from "../support/cli.ts";
import { endpoint } from "../support/dynamo.ts";
import { beat, clients, m2, markAdded, seededTable, snapshot } from "../support/lifecycle.ts";

const DAY = 86_400_000;

/** 0002 removed (cleanup run, local backup file) on a seeded table. */
async function removed(prefix: string) {
  const s = await seededTable(20, prefix);
  const ctx = s.ctx(m2);
  await markAdded(ctx);
  await beat(ctx, s.time.now());
  await convertStep(ctx, { settings: { segments: 2, rate: 100_000 } });
  await moveStep(ctx, { to: "v2", percent: 100, verify: { recheckAfterMs: 0 } });
  s.time.advance(8 * DAY);
  const before = await snapshot(s.table);
  const outcome = await removeStep(ctx, { backupDir: mkdtempSync(join(tmpdir(), "ferry-unretire-")), cleanup: { rate: 100_000 } });
  expect(outcome.completed).toBe(true);
  const backup = outcome.result.backup?.kind === "file" ? outcome.result.backup.path : "";
  return { s, ctx, backup, before, conn: ["--table", s.table, "--endpoint", endpoint()] };
}

const state = (s: { controlTable: string }) => readMigrationState({ doc: clients.doc, controlTable: s.controlTable, migrationId: m2.id });

describe("ferry unretire", () => {
  it("is refused until the old data is restored, then brings v1 back, recorded with actor and reason; move --to v1 and rollback work again", async () => {
    const { s, backup, before, conn } = await removed("unret");

    const flip = await ferryBin(["move", "0002", "--to", "v1", ...conn]);
    expect(flip.code).toBe(3);
    expect(flip.stderr).toMatch(/then `ferry unretire 0002_split-workflow-tasks --reason "\.\.\."`/);
    const noReason = await ferryBin(["unretire", "0002", ...conn]);
    expect(noReason).toMatchObject({ code: 2, stderr: expect.stringMatching(/unretire needs --reason/) });
    const early = await ferryBin(["unretire", "0002", ...conn, "--reason", "clients still on v1"]);
    expect(early.code).toBe(3);
    expect(early.stderr).toContain(`needs the old data back, but the cleanup removed it`);
    expect(early.stderr).toContain(`run \`ferry restore ${backup}\` first`);
    expect((await readRelease({ doc: clients.doc, controlTable: s.controlTable, migrationId: m2.id })).v1RetiredAt).toEqual(expect.any(String));
    expect((await state(s))?.history.map((h) => h.step)).not.toContain("unretire");

    const restored = await ferryBin(["restore", backup, "--endpoint", endpoint()]);
    expect(restored.code).toBe(0);
    expect(restored.stdout).toMatch(/ferry unretire 0002_split-workflow-tasks --reason/);
    const unretired = await ferryBin(["unretire", "0002", ...conn, "--reason", "clients still on v1", "--actor", "bo"]);

    expect(unretired.code).toBe(0);
    expect(unretired.stdout).toMatch(/^Unretired v1 of 0002_split-workflow-tasks/);
    const after = await state(s);
    expect(after).toMatchObject({
      status: "active",
      step: "unretire",
      unretired: { actor: "bo", reason: "clients still on v1", previousRemoval: { backup: { kind: "file", path: backup } } },
    });
    expect(after?.removal).toBeUndefined();
    expect(after?.history.at(-1)).toMatchObject({ step: "unretire", actor: "bo", reason: "clients still on v1" });
    const release = await readRelease({ doc: clients.doc, controlTable: s.controlTable, migrationId: m2.id });
    expect(release.v1RetiredAt).toBeUndefined();
    expect(release.history.at(-1)).toMatchObject({ action: "restore-v1", actor: "bo", reason: "clients still on v1" });
    // The old data is exactly back (the derived records were kept by remove).
    expect(await snapshot(s.table)).toEqual(before);

    const back = await ferryBin(["move", "0002", "--to", "v1", ...conn]);
    expect(back.code).toBe(0);
    expect((await readRelease({ doc: clients.doc, controlTable: s.controlTable, migrationId: m2.id })).v2Percent).toBe(0);
    // Once unretired, v1 is not retired: a second unretire is refused, saying so.
    const again = await ferryBin(["unretire", "0002", ...conn, "--reason", "twice"]);
    expect(again).toMatchObject({ code: 3, stderr: expect.stringMatching(/needs v1 retired by `ferry remove`, but it is not/) });
    const rollback = await ferryBin(["rollback", "0002", ...conn, "--max-heartbeat-age", "0"]);
    expect(rollback.code).toBe(0);
    expect((await state(s))?.status).toBe("rolled-back");
  }, 180_000);

  it("on AWS (an on-demand backup restored by hand) needs --force --reason, recorded as the overridden guard", async () => {
    const { s, conn } = await removed("unret-force");

    const forced = await ferryBin(["unretire", "0002", ...conn, "--force", "--reason", "restored the on-demand backup by hand", "--json"]);

    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({ v1Retired: false, forced: ["old-data-present"] });
    expect((await state(s))?.history.at(-1)).toMatchObject({ step: "unretire", forced: ["old-data-present"], reason: "restored the on-demand backup by hand" });
  });
});
