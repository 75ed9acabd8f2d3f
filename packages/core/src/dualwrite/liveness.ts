/**
 * The dual-write liveness probe: a heartbeat is written only when the dual-write applies a
 * change, so on an idle table a running dual-write looks dead. The probe writes a ping item
 * (dualwrite/liveness-key.ts) to the data table, waits until the dual-write's heartbeat carries
 * the ping's nonce, then deletes the ping. Seeing it proves the whole path works: the stream
 * is on, the mapping delivers, the handler runs and can write the control table.
 */
import { randomUUID } from "node:crypto";
import { DeleteCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { DynamoClients } from "../aws/dynamodb.ts";
import type { Migration } from "../definition/define-migration.ts";
import { describeTable } from "../dynamo/table.ts";
import { sleep } from "../util/backoff.ts";
import { readHeartbeat } from "./heartbeat.ts";
import { pingItem, pingKey } from "./liveness-key.ts";

/** How long a probe waits, and how often it reads the heartbeat. */
export interface ProbeOptions {
  timeoutMs: number;
  pollMs: number;
}

/** Lambda polls a stream about 4 times a second; 30 s leaves room for a cold start. */
export const DEFAULT_PROBE_OPTIONS: ProbeOptions = { timeoutMs: 30_000, pollMs: 200 };

export interface ProbeTarget {
  clients: DynamoClients;
  tableName: string;
  controlTable: string;
  migration: Pick<Migration, "id" | "source" | "keys">;
}

/** What a probe saw: `live` with the round trip; not live within the timeout, or at once when the table has no stream. */
export type ProbeResult = { live: true; roundTripMs: number; nonce: string } | { live: false; waitedMs: number; nonce?: string; streamOff?: true };

/** Writes a ping and waits for the dual-write to apply it; the ping is deleted either way. */
export async function probeDualWrite(target: ProbeTarget, options: Partial<ProbeOptions> = {}): Promise<ProbeResult> {
  const { timeoutMs, pollMs } = { ...DEFAULT_PROBE_OPTIONS, ...options };
  // Without a stream no ping can come back: say so now instead of waiting out the timeout.
  const stream = (await describeTable(target.clients.raw, target.tableName))?.StreamSpecification;
  if (!stream?.StreamEnabled) return { live: false, waitedMs: 0, streamOff: true };
  const doc = target.clients.doc;
  const nonce = randomUUID();
  const started = Date.now();
  await doc.send(new PutCommand({ TableName: target.tableName, Item: pingItem(target.migration, nonce, started) }));
  try {
    for (;;) {
      const beat = await readHeartbeat(doc, target.controlTable, target.migration.id).catch(() => undefined);
      if (beat?.lastPing === nonce) return { live: true, roundTripMs: Date.now() - started, nonce };
      if (Date.now() - started >= timeoutMs) return { live: false, waitedMs: Date.now() - started, nonce };
      await sleep(pollMs);
    }
  } finally {
    // The ping is only a message: leave nothing in the table (its REMOVE is another ping).
    await doc.send(new DeleteCommand({ TableName: target.tableName, Key: pingKey(target.migration) })).catch(() => undefined);
  }
}
