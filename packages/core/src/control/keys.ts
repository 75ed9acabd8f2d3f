/**
 * The control table's key layout, in one place. Every record of a migration lives in its
 * partition (PK `migration#<id>`); the sort key's first segment names the kind, one
 * namespace per kind, so a prefix query reads one kind and nothing else:
 *
 *   state                          the migration's state record (control/migration-state.ts)
 *   release                        traffic split, pins, audit trail (release/store.ts)
 *   shadow                         shadow-read agreement counts (release/shadow.ts)
 *   usage#<v1|v2>#<minute>         requests per version per minute (release/usage.ts)
 *   server#<host>:<pid>:<random>   an API server's uncounted-v1 window (release/server-record.ts)
 *   heartbeat#<consumer>           dual-write heartbeat (dualwrite/heartbeat.ts)
 *   shard#<streamArn>#<shardId>    stream checkpoints of the local dual-write
 *   dead#<sequence>                stream records the local dual-write gave up on
 *   failure#<sequence>             stream records whose conversion failed (dualwrite/failures.ts)
 *   deleted#<key values>#<nonce>   a source item the remove step's cleanup deleted with attributes
 *                                  its backup line lacks, as the stream saw it (cleanup/deleted-images.ts)
 *   backfill#lock                  the backfill's lease (backfill/lock.ts)
 *   backfill#run, backfill#segment#NNNNN, backfill#failed#<key values joined by #>
 *                                  the backfill's run, checkpoints and unconvertible items
 *   backfill#dry-run#...           the same for the dry run, beside the real run's
 *   <sweep>#run, <sweep>#segment#NNNNN
 *                                  a sweep's run and checkpoints (sweeps: rollback, cleanup)
 *
 * (The liveness ping is an item of the data table, not of this one: dualwrite/liveness-key.ts.)
 */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { ItemKey } from "../dynamo/key-schema.ts";

/** Where one migration's control records live: the control table and the migration's partition. */
export interface ControlLocation {
  doc: DynamoDBDocumentClient;
  controlTable: string;
  migrationId: string;
}

/** Partition key of a migration's control records. */
export function migrationPk(migrationId: string): string {
  return `migration#${migrationId}`;
}

// PK and SK below are ferry's own control table's key attributes (control-table.ts creates it so):
// the only place in the engine that names them. Data tables' keys come from their KeySchema.

/** The key of one control record of `migrationId`. */
export function controlKey(migrationId: string, sk: string): { PK: string; SK: string } {
  return { PK: migrationPk(migrationId), SK: sk };
}

/** A control record without its key attributes. */
export function withoutControlKey(item: Record<string, unknown>): object {
  const { PK: _pk, SK: _sk, ...rest } = item;
  return rest;
}

/** How a data item's key appears inside a control sort key: its values joined by `#` (binary as base64). */
function keyPart(key: ItemKey): string {
  return Object.values(key)
    .map((v) => (v instanceof Uint8Array ? Buffer.from(v).toString("base64") : String(v)))
    .join("#");
}

const sequence = (sequenceNumber: string) => sequenceNumber.padStart(40, "0");
const segmentNumber = (segment: number) => String(segment).padStart(5, "0");

/** The backfill's records: the real run's, or the dry run's beside them. */
function backfillKeys(dryRun: boolean) {
  const prefix = dryRun ? "backfill#dry-run#" : "backfill#";
  return {
    run: `${prefix}run`,
    segmentPrefix: `${prefix}segment#`,
    segment: (segment: number) => `${prefix}segment#${segmentNumber(segment)}`,
    failurePrefix: `${prefix}failed#`,
    failure: (key: ItemKey) => `${prefix}failed#${keyPart(key)}`,
  } as const;
}

/** Sort keys of the control records (one namespace per kind). */
export const ControlSk = {
  state: "state",
  release: "release",
  shadow: "shadow",
  usagePrefix: "usage#",
  /** Prefix of one version's usage buckets. */
  usageOf: (version: string) => `usage#${version}#`,
  /** `usage#v1#2026-11-23T07:05`: minute buckets sort by time. */
  usage: (version: string, minute: string) => `usage#${version}#${minute}`,
  serverPrefix: "server#",
  /** `server#<host>:<pid>:<random>`: one record per API server (process) and migration. */
  server: (serverId: string) => `server#${serverId}`,
  heartbeat: (consumer: string) => `heartbeat#${consumer}`,
  shard: (streamArn: string, shardId: string) => `shard#${streamArn}#${shardId}`,
  shardPrefix: (streamArn: string) => `shard#${streamArn}#`,
  deadLetter: (sequenceNumber: string) => `dead#${sequence(sequenceNumber)}`,
  deadLetterPrefix: "dead#",
  failure: (sequenceNumber: string) => `failure#${sequence(sequenceNumber)}`,
  failurePrefix: "failure#",
  deletedImage: (key: ItemKey, nonce: string) => `deleted#${keyPart(key)}#${nonce}`,
  deletedImagePrefix: "deleted#",
  backfillLock: "backfill#lock",
  backfill: backfillKeys(false),
  backfillDryRun: backfillKeys(true),
  sweepRun: (kind: string) => `${kind}#run`,
  sweepSegment: (kind: string, segment: number) => `${kind}#segment#${segmentNumber(segment)}`,
} as const;

/** The backfill's keys for a store: the dry run's when `dryRun`. */
export function backfillSk(store: { dryRun?: boolean }) {
  return store.dryRun ? ControlSk.backfillDryRun : ControlSk.backfill;
}
