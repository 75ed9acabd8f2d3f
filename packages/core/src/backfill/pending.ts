/**
 * The backfill's write-ahead note. Before a page's plain writes, the keys it is about to
 * write, per source item, are appended to its segment's checkpoint record; the checkpoint
 * saved after the page replaces that record and so drops them. An attempt that dies between
 * its writes and its validation read leaves the note behind: the next attempt of the page
 * validates those items too and deletes what derive(current) does not own. Without it a
 * stale write of the dead attempt could outlive the redo as an orphan (README "Backfill").
 */
import { gunzipSync, gzipSync } from "node:zlib";
import { GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { backfillSk, migrationPk } from "../control/keys.ts";
import type { ItemKey } from "../definition/define-migration.ts";
import { FerryError } from "../errors.ts";
import type { SegmentCheckpoint, StateStore } from "./state.ts";

/** Keys a page attempt is about to write, per source item. */
export type PendingOwners = [owner: ItemKey, records: ItemKey[]][];

/** One attempt's note as stored: which run and page it belongs to, and its keys (gzipped JSON). */
interface StoredNote {
  runId: string;
  pages: number;
  keys: Uint8Array;
}

/** Room the notes may take in the checkpoint record (under the 400 KB item limit). */
const NOTE_BYTE_BUDGET = 300_000;

/** A page whose keys do not fit in the write-ahead note. */
export class PageTooLargeError extends FerryError {
  constructor(
    readonly segment: number,
    readonly bytes: number,
  ) {
    super(
      `Segment ${segment}'s next page derives too many record keys to note before writing them (${bytes} bytes compressed, at most ${NOTE_BYTE_BUDGET}); lower --page-size and resume with \`ferry resume\`.`,
    );
  }
}

/** A note as read back. */
export interface PendingNote {
  runId: string;
  pages: number;
  owners: PendingOwners;
}

/** The segment's checkpoint and the notes of page attempts since it was saved. */
export async function readSegment(store: StateStore, segment: number): Promise<{ checkpoint?: SegmentCheckpoint; notes: PendingNote[] }> {
  const out = await store.doc.send(
    new GetCommand({
      TableName: store.controlTable,
      Key: { PK: migrationPk(store.migrationId), SK: backfillSk(store).segment(segment) },
      ConsistentRead: true,
    }),
  );
  const checkpoint = out.Item?.checkpoint as SegmentCheckpoint | undefined;
  const notes = (out.Item?.pending ?? []) as StoredNote[];
  return {
    ...(checkpoint ? { checkpoint } : {}),
    notes: notes.map((n) => ({ runId: n.runId, pages: n.pages, owners: JSON.parse(gunzipSync(n.keys).toString("utf8")) as PendingOwners })),
  };
}

/** The keys noted by earlier attempts of this run's page `pages` (notes of other runs or pages do not count). */
export function pendingOf(notes: PendingNote[], runId: string, pages: number): PendingOwners {
  return notes.filter((n) => n.runId === runId && n.pages === pages).flatMap((n) => n.owners);
}

/** Appends this attempt's note to the segment record (read back by readSegment; dropped by saveCheckpoint). */
export async function notePending(store: StateStore, segment: number, runId: string, pages: number, owners: PendingOwners): Promise<void> {
  const keys = gzipSync(JSON.stringify(owners));
  if (keys.byteLength > NOTE_BYTE_BUDGET) throw new PageTooLargeError(segment, keys.byteLength);
  await store.doc.send(
    new UpdateCommand({
      TableName: store.controlTable,
      Key: { PK: migrationPk(store.migrationId), SK: backfillSk(store).segment(segment) },
      UpdateExpression: "SET #p = list_append(if_not_exists(#p, :empty), :note)",
      ExpressionAttributeNames: { "#p": "pending" },
      ExpressionAttributeValues: { ":empty": [], ":note": [{ runId, pages, keys: new Uint8Array(keys) } satisfies StoredNote] },
    }),
  );
}
