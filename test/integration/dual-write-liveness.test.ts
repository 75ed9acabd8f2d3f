// The convert guard's liveness probe on DynamoDB Local: a dual-write that has applied nothing
// lately (an idle table) is asked with a ping item that travels the stream like any change.
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { enableStream, loadMigration } from "@ferry/core";
import { WORKFLOWS_TABLE } from "@ferry/example-workflows";
import { convertStep } from "@ferry/core/lifecycle/lifecycle";
import { DualWriteNotLiveError } from "@ferry/core/lifecycle/guards";
import { readHeartbeat } from "@ferry/core/dualwrite/heartbeat";
import { pingKey } from "@ferry/core/dualwrite/liveness-key";
import { planStreamRecord } from "@ferry/core/dualwrite/plan";
import { marshall } from "@aws-sdk/util-dynamodb";
import { describe, expect, it } from "vitest";
import { beat, clients, markAdded, seededTable } from "../support/lifecycle.ts";
import { startLiveDualWrite } from "../support/live-dual-write.ts";
import { scanAll } from "../support/dynamo.ts";

const fast = { settings: { segments: 2, rate: 100_000 } };

describe("dual-write liveness probe", () => {
  it("lets convert start on an idle table once the running dual-write answers a ping, and leaves no ping behind", async () => {
    const m1 = await loadMigration("0001");
    const s = await seededTable(20, "live");
    await enableStream(clients.raw, WORKFLOWS_TABLE, s.table);
    const ctx = s.ctx(m1, { guards: { now: s.time.now, probeTimeoutMs: 20_000 } });
    await markAdded(ctx);
    // The last change it applied was an hour ago: the heartbeat alone says "not live".
    await beat(ctx, s.time.now() - 60 * 60_000);
    const dualWrite = await startLiveDualWrite(clients, s.table, s.controlTable, m1);
    try {
      const result = await convertStep(ctx, fast);

      expect(result.completed).toBe(true);
      const heartbeat = await readHeartbeat(clients.doc, s.controlTable, m1.id);
      expect(heartbeat?.lastPing).toEqual(expect.any(String));
      expect(heartbeat?.pings).toBeGreaterThanOrEqual(1);
      expect((await clients.doc.send(new GetCommand({ TableName: s.table, Key: pingKey(m1) }))).Item).toBeUndefined();
      // The ping was neither converted nor derived from: only workflows own records.
      const stamped = (await scanAll(clients, s.table)).filter((i) => i.ferry !== undefined);
      expect(stamped.every((i) => String(i.SK).startsWith("CTX#"))).toBe(true);
    } finally {
      await dualWrite.stop();
    }
  });

  it("refuses convert when no dual-write applies the ping, saying how long it waited", async () => {
    const m1 = await loadMigration("0001");
    const s = await seededTable(10, "dead");
    await enableStream(clients.raw, WORKFLOWS_TABLE, s.table);
    const ctx = s.ctx(m1, { guards: { now: s.time.now, probeTimeoutMs: 1_000 } });
    await markAdded(ctx);

    const attempt = convertStep(ctx, fast);

    await expect(attempt).rejects.toBeInstanceOf(DualWriteNotLiveError);
    await expect(attempt).rejects.toMatchObject({
      exitCode: 3,
      probe: expect.any(Number),
      message: expect.stringMatching(/liveness ping written to the table was not applied within 1(\.\d)?s/),
    });
    expect((await clients.doc.send(new GetCommand({ TableName: s.table, Key: pingKey(m1) }))).Item).toBeUndefined();
  });

  it("refuses at once, without a ping, when the table's stream is off", async () => {
    const m1 = await loadMigration("0001");
    const s = await seededTable(10, "nostream");
    const ctx = s.ctx(m1);
    await markAdded(ctx);
    const started = Date.now();

    const attempt = convertStep(ctx, fast);

    await expect(attempt).rejects.toMatchObject({ guard: "dual-write-live", probe: "stream-off", message: expect.stringMatching(/stream is off.*ferry add/) });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("treats only its own migration's ping as a ping; another migration ignores it", async () => {
    const [m1, m2] = await Promise.all([loadMigration("0001"), loadMigration("0002")]);
    const record = (key: Record<string, unknown>) => ({
      eventName: "INSERT" as const,
      dynamodb: {
        Keys: marshall(key) as never,
        NewImage: marshall({ ...key, nonce: "n-1", ferry: { migration: "ferry#ping", ping: m1.id } }) as never,
        SequenceNumber: "1",
      },
    });

    expect(planStreamRecord(m1, record(pingKey(m1)))).toMatchObject({ kind: "ping", nonce: "n-1" });
    expect(planStreamRecord(m2, record(pingKey(m1)))).toMatchObject({ kind: "ignored" });
  });
});
