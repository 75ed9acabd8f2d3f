/**
 * What a running API server may hold that the usage buckets do not show yet. Each server
 * keeps one record per migration (SK `server#<serverId>`) saying, while it answered v1
 * requests whose counts are still in its memory, since when (`holdsV1Since`) and until when
 * it promises to rewrite the record (`until`). A server writes the record before it answers
 * the first such request, and clears `holdsV1Since` only after the counts were written. So
 * every v1 request that was answered but is not counted lies in [holdsV1Since, until] of a
 * record without `stoppedAt`, also when the server crashed or (on Lambda) froze: the remove
 * guard treats that interval as v1 use. README "Usage counts and the remove guard" argues it.
 */
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import { PutCommand, paginateQuery } from "@aws-sdk/lib-dynamodb";
import { type ControlLocation, ControlSk, migrationPk, controlKey, withoutControlKey } from "../control/keys.ts";

/** How long minute buckets and server records are kept (TTL attribute `expiresAt`). */
export const USAGE_RETENTION_SECONDS = 7 * 86_400;

/** One server's record for one migration. Times are ms since the epoch. */
export interface ServerRecord {
  serverId: string;
  host: string;
  pid: number;
  startedAt: number;
  /** When the record was written. */
  writtenAt: number;
  /** Every request this server counted before this time is in the usage buckets (absent before its first flush). */
  flushedAt?: number;
  /** Set while the server holds counts of v1 requests it answered: the earliest of them. */
  holdsV1Since?: number;
  /** The server rewrites the record before this time; past it, the server crashed, froze or lost the control table. */
  until: number;
  /** Set by a clean stop after its last flush: the server holds nothing. */
  stoppedAt?: number;
  /** TTL (s): kept as long as the usage buckets, so a quiet window of up to the retention still sees it. */
  expiresAt: number;
}

/** A server id unique per process: host, pid and a random part (Lambda reuses pids across instances). */
export function newServerId(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

export async function writeServerRecord(location: ControlLocation, record: Omit<ServerRecord, "expiresAt">): Promise<void> {
  await location.doc.send(
    new PutCommand({
      TableName: location.controlTable,
      Item: {
        ...controlKey(location.migrationId, ControlSk.server(record.serverId)),
        ...record,
        expiresAt: Math.floor(record.until / 1000) + USAGE_RETENTION_SECONDS,
      },
    }),
  );
}

/** Every server record of the migration (consistent reads). */
export async function readServerRecords(location: ControlLocation): Promise<ServerRecord[]> {
  const records: ServerRecord[] = [];
  const pages = paginateQuery(
    { client: location.doc },
    {
      TableName: location.controlTable,
      KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
      ExpressionAttributeValues: { ":pk": migrationPk(location.migrationId), ":prefix": ControlSk.serverPrefix },
      ConsistentRead: true,
    },
  );
  for await (const page of pages) {
    for (const item of page.Items ?? []) {
      const record = withoutControlKey(item);
      records.push(record as ServerRecord);
    }
  }
  return records;
}

/** The interval in which a server may have answered v1 requests that are not counted (undefined: none). */
export function uncountedV1Window(record: ServerRecord): { from: number; to: number } | undefined {
  if (record.stoppedAt !== undefined || typeof record.holdsV1Since !== "number") return undefined;
  return { from: record.holdsV1Since, to: record.until };
}
