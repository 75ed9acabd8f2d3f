// Shadow reads over real HTTP that tell the dual-write's lag from a divergence: a disagreement is
// re-checked after a delay (both versions read again) in the background, never before the answer.
import { DeleteCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { batchPutAll, deriveRecords, loadMigration } from "@ferry/core";
import { InvalidShadowRecheckOptionsError, type ShadowStats, readShadowStats, shadowRecheckOptions } from "@ferry/core/release/shadow";
import { moveRelease } from "@ferry/core/release/store";
import { contextId, tenantId } from "@ferry/example-workflows";
import { beforeAll, describe, expect, it } from "vitest";
import type { ApiOptions } from "../../examples/workflows/src/api/deps.ts";
import { type ConvertedTable, type Item, apiServer, convertedTable, expectedByContext, get } from "../support/api.ts";
import { ferryBin } from "../support/cli.ts";
import { endpoint } from "../support/dynamo.ts";

const A = tenantId(0);
const m1 = await loadMigration("0001");
let t: ConvertedTable;

beforeAll(async () => {
  t = await convertedTable({ tenants: 1, workflows: 24, contexts: 2, pool: 4, tasks: 1, itemKb: 1, seed: 11 });
}, 60_000);

/** A server whose context route follows its own release (v2 for everyone, every request shadowed). */
async function shadowedServer(migrationId: string, shadowRecheck: ApiOptions["shadowRecheck"]) {
  const location = { doc: t.clients.doc, controlTable: t.controlTable, migrationId };
  await moveRelease(location, { to: "v2", percent: 100, shadow: 100, actor: "test" });
  const server = await apiServer(t, { migrations: { byContext: migrationId }, random: () => 0, shadowRecheck });
  return { location, server };
}

/** Polls the shadow record until `done` holds (the background comparison has got that far). */
async function statsWhen(location: Parameters<typeof readShadowStats>[0], done: (s: ShadowStats) => boolean, timeoutMs = 2_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const s = await readShadowStats(location);
    if (done(s) || Date.now() > until) return s;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("shadow re-check", () => {
  it("a disagreement from the new model's lag (records applied before the re-check) counts as lagged, not persistent", async () => {
    // Arrange: a change written to the old model only; its index records are not applied yet.
    const { location, server } = await shadowedServer("shadow-lag", { recheckAfterMs: 1_500, rechecks: 2 });
    try {
      const newContext = contextId(90);
      const w = t.workflows[0] as Item;
      const changed = { ...w, contexts: [...(w.contexts as Item[]), { id: newContext, name: "Context added" }] };
      await t.clients.doc.send(new PutCommand({ TableName: t.table, Item: changed }));

      // Act 1: the comparison runs while v2 (primary) lags behind v1 (shadow).
      const res = await get(server, `/workflows?context=${newContext}&limit=100`, A);
      expect(res.status).toBe(200);
      expect(res.body.items).toEqual([]);
      const first = await statsWhen(location, (s) => s.compared === 1);
      expect(first).toMatchObject({ compared: 1, disagreed: 1, lagged: 0, persistent: 0, unsettled: 1 });

      // Act 2: the dual-write catches up (its derive of the new image) before the re-check.
      await batchPutAll(t.clients.doc, t.table, deriveRecords(m1, changed as never));
      await server.deps.background.drain();

      // Assert: raw agreement 0%, after re-check 100%; nothing kept as a divergence.
      const stats = await readShadowStats(location);
      expect(stats).toMatchObject({ compared: 1, agreed: 0, disagreed: 1, lagged: 1, persistent: 0, unsettled: 0, agreement: 0, agreementAfterRecheck: 1 });
      expect(stats.disagreements).toEqual([]);
      const after = await get(server, `/workflows?context=${newContext}&limit=100`, A);
      expect(after.body.items.map((i: Item) => i.id)).toEqual([String(w.SK).slice(3)]);
    } finally {
      await server.close();
    }
  });

  it("a real divergence (an index record wrongly missing, never repaired) counts as persistent, with its example", async () => {
    // Arrange: one index record deleted, so v2 misses a workflow v1 finds, and nothing repairs it.
    const { location, server } = await shadowedServer("shadow-divergence", { recheckAfterMs: 100, rechecks: 3 });
    try {
      const ctx = contextId(2);
      const expected = expectedByContext(t.workflows, A, ctx);
      const victim = expected[0] as string;
      await t.clients.doc.send(new DeleteCommand({ TableName: t.table, Key: { PK: A, SK: `CTX#${ctx}#WF#${victim}` } }));
      // An agreeing comparison beside it.
      expect((await get(server, `/workflows?context=${contextId(1)}&limit=100`, A)).status).toBe(200);

      // Act
      const res = await get(server, `/workflows?context=${ctx}&limit=100`, A);
      await server.deps.background.drain();

      // Assert
      expect(res.body.items.map((i: Item) => i.id)).toEqual(expected.slice(1));
      const stats = await readShadowStats(location);
      expect(stats).toMatchObject({ compared: 2, agreed: 1, disagreed: 1, lagged: 0, persistent: 1, unsettled: 0, agreement: 0.5, agreementAfterRecheck: 0.5 });
      expect(stats.disagreements).toEqual([
        expect.objectContaining({ route: "GET /workflows?context", tenant: A, primary: "v2", onlyPrimary: [], onlyShadow: [victim], rechecks: 3 }),
      ]);
      const d = stats.disagreements[0]!;
      // The three re-checks took at least their three delays.
      expect(Date.parse(d.lastCheckedAt as string) - Date.parse(d.at)).toBeGreaterThanOrEqual(300);
    } finally {
      await server.close();
    }
  });

  it("the client's answer does not wait for the re-check: it arrives while the re-check is pending", async () => {
    // Arrange: a persistent divergence and a long re-check delay.
    const recheckAfterMs = 2_000;
    const { location, server } = await shadowedServer("shadow-timing", { recheckAfterMs, rechecks: 1 });
    try {
      const ctx = contextId(3);
      const victim = expectedByContext(t.workflows, A, ctx)[0] as string;
      await t.clients.doc.send(new DeleteCommand({ TableName: t.table, Key: { PK: A, SK: `CTX#${ctx}#WF#${victim}` } }));

      // Act
      const started = performance.now();
      const res = await get(server, `/workflows?context=${ctx}&limit=100`, A);
      const answerMs = performance.now() - started;
      const pending = await statsWhen(location, (s) => s.compared === 1);
      await server.deps.background.drain();
      const settledMs = performance.now() - started;

      // Assert: answered long before the re-check delay; the re-check settled only after it.
      expect(res.status).toBe(200);
      expect(answerMs).toBeLessThan(recheckAfterMs / 2);
      expect(pending).toMatchObject({ disagreed: 1, unsettled: 1, persistent: 0 });
      expect(settledMs).toBeGreaterThanOrEqual(recheckAfterMs);
      expect(await readShadowStats(location)).toMatchObject({ persistent: 1, unsettled: 0 });
    } finally {
      await server.close();
    }
  });

  it("the re-check is bounded: a delay or count over the limits is refused, by the API options and by ferry serve (exit 2)", async () => {
    expect(() => shadowRecheckOptions({ rechecks: 11 })).toThrow(InvalidShadowRecheckOptionsError);
    expect(() => shadowRecheckOptions({ recheckAfterMs: 60_000 })).toThrow(/recheckAfterMs must be an integer from 0 to 30000 \(got 60000\)/);
    const out = await ferryBin(["serve", "--table", t.table, "--endpoint", endpoint(), "--shadow-rechecks", "50"], {
      ...process.env,
      FERRY_JWT_SECRET: "test-secret-0123456789",
    });
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/--shadow-rechecks.*expected an integer from 0 to 10, got "50"/);
  });
});
