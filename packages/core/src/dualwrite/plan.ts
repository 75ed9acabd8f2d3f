/**
 * Decides what one DynamoDB stream record means for a migration's derived records: ignore it,
 * skip it as unchanged, or write the records the new image owns and delete the ones only the
 * old image owned. Pure: no I/O, so every rule is testable on plain records.
 */
import { isDeepStrictEqual } from "node:util";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { AttributeValue as LambdaAttributeValue, DynamoDBRecord } from "aws-lambda";
import { type DerivedRecord, type ItemKey, type Migration, isSourceKey, keysOf, recordKeysOf } from "../definition/define-migration.ts";
import {
  DeriveError,
  InvalidDerivedRecordsError,
  OWNER_ATTRIBUTE,
  SourceMatchError,
  SourceSchemaError,
  deriveRecords,
  keyId,
  keyOf,
  projectSource,
  sameRecord,
} from "../definition/derive.ts";
import { RecordOwnedElsewhereError } from "../definition/owner.ts";
import { matchesSource } from "../definition/source.ts";
import { FerryError } from "../errors.ts";
import { isPingKey } from "./liveness-key.ts";

/**
 * The attribute the remove step's source-item sweep sets (`{ migration, nonce, names }`) on a source
 * item just before deleting it on that mark: a MODIFY the plan sees as unchanged (not a schema
 * field), and a REMOVE it recognises as the cleanup's (isCleanupDelete). `names` are the item's
 * attributes the sweep backed up: a REMOVE whose old image has more outlived the backup.
 */
export const CLEANUP_MARK_ATTRIBUTE = "ferryCleanup";

/** A stream record the dual-write cannot use: an image it needs is missing or the event is unknown. */
export class UnusableStreamRecordError extends FerryError {
  constructor(
    readonly sequenceNumber: string,
    readonly problem: string,
  ) {
    super(
      `Stream record ${sequenceNumber} cannot be applied: ${problem}. ` +
        "The dual-write needs a stream with StreamViewType NEW_AND_OLD_IMAGES; `ferry add` checks the table's stream.",
    );
  }
}

/** What to do with one stream record. */
export type RecordPlan =
  /** A liveness ping of this migration (dualwrite/liveness.ts): no records, but the heartbeat notes its nonce. */
  | { kind: "ping"; key: ItemKey; nonce?: string }
  /** Not a source item of the migration (another entity, or a derived record): acknowledged, never parsed. */
  | { kind: "ignored"; key: Record<string, unknown> }
  /**
   * A MODIFY whose schema projection did not change: derive's output cannot have changed. Or the
   * cleanup's REMOVE; `deletedImage` when the deleted item held attributes its backup line lacks
   * (added between the sweep's mark and its delete): the dual-write keeps it (cleanup/deleted-images.ts).
   */
  | { kind: "unchanged"; key: ItemKey; deletedImage?: { nonce: string; item: Record<string, AttributeValue> } }
  | {
      kind: "apply";
      key: ItemKey;
      /** Every record the new image owns (none on REMOVE). */
      puts: DerivedRecord[];
      /** Keys the old image owned that the new image does not. */
      deletes: ItemKey[];
      /**
       * Per put: true when no earlier image of the source derived its key, so it is most likely
       * free and goes out in a batched INSERT (dualwrite/applier.ts). A hint for the cost only:
       * an INSERT on a taken key fails and is written owner-conditionally like any other put.
       */
      fresh?: boolean[];
      /** Set when the old image failed the schema or derive: it owned nothing, so nothing is deleted. */
      invalidOldImage?: FerryError;
      /** Kind attributes (kinds/attributes/plan.ts): set `set` on the item while its read fields are `image`'s (puts and deletes are empty). */
      attributes?: { image: Record<string, unknown>; set: Record<string, unknown> };
    };

/** True for the errors a record's own content causes: retrying the same record cannot succeed. */
export function isPoisonError(err: unknown): boolean {
  return (
    err instanceof SourceSchemaError ||
    err instanceof SourceMatchError ||
    err instanceof DeriveError ||
    err instanceof InvalidDerivedRecordsError ||
    err instanceof UnusableStreamRecordError ||
    // The key holds another migration's (or the application's) item: retrying cannot free it.
    err instanceof RecordOwnedElsewhereError
  );
}

/** The plan for `record` under `migration`; throws a poison error (isPoisonError) when the new image cannot be derived. */
export function planStreamRecord(migration: Migration, record: DynamoDBRecord): RecordPlan {
  const stream = record.dynamodb ?? {};
  const seq = stream.SequenceNumber ?? "(no sequence number)";
  const newImage = stream.NewImage ? fromLambdaImage(stream.NewImage) : undefined;
  const oldImage = stream.OldImage ? fromLambdaImage(stream.OldImage) : undefined;
  const keys = stream.Keys ? fromLambdaImage(stream.Keys) : (newImage ?? oldImage ?? {});
  const latest = newImage ?? oldImage;
  const keySchema = keysOf(migration);
  if (isPingKey(migration, keys))
    return { kind: "ping", key: keyOf(keySchema, keys), ...(typeof newImage?.nonce === "string" ? { nonce: newImage.nonce } : {}) };
  // Same rule as the backfill's isSourceItem: a stamped record is derived, never a source.
  if (!isSourceKey(migration, keys) || (latest && OWNER_ATTRIBUTE in latest)) return { kind: "ignored", key: keys };
  const key = keyOf(keySchema, keys);
  // `match` judges each image on its own: an item that starts (or stops) matching gains (or loses) its records.
  const newMatches = newImage !== undefined && matchesSource(migration, newImage);
  const oldMatches = oldImage !== undefined && matchesSource(migration, oldImage);
  if (migration.source.match && !newMatches && !oldMatches) return { kind: "ignored", key: keys };
  if (migration.source.match && record.eventName === "MODIFY" && newMatches !== oldMatches) {
    const next = required(newImage, seq, "MODIFY without NewImage");
    const before = required(oldImage, seq, "MODIFY without OldImage");
    return newMatches ? allFresh(key, deriveRecords(migration, next)) : withPrevious(migration, key, [], before);
  }

  switch (record.eventName) {
    case "INSERT":
      return allFresh(key, deriveRecords(migration, required(newImage, seq, "INSERT without NewImage")));
    case "REMOVE":
      // The remove step's deletion of a migrated source item (kind "table", cleanup.deleteSourceItems):
      // its records now belong to the application's new model and must stay.
      if (isCleanupDelete(migration, required(oldImage, seq, "REMOVE without OldImage"))) {
        const outlived = outlivedBackup(oldImage as Record<string, unknown>);
        const item = outlived && stream.OldImage ? withoutMarkAttribute(decodeImage(stream.OldImage)) : undefined;
        return { kind: "unchanged", key, ...(outlived && item ? { deletedImage: { nonce: outlived, item } } : {}) };
      }
      return withPrevious(migration, key, [], required(oldImage, seq, "REMOVE without OldImage"));
    case "MODIFY": {
      const next = required(newImage, seq, "MODIFY without NewImage");
      const before = required(oldImage, seq, "MODIFY without OldImage");
      const nextView = projectSource(migration, next);
      const beforeView = projectionOrUndefined(migration, before);
      // Skip only when the schema's projection is unchanged, so derive provably is too. Skipping
      // because the derived records happen to be equal would be unsafe: the backfill writes an
      // item's records only if its schema-read fields are unchanged since its scan and leaves
      // changed items to the stream, so the stream must write whenever the projection changed.
      if (beforeView && sameRecord(nextView, beforeView)) return { kind: "unchanged", key };
      // The remove step's cleanup dropping the old data: from then on the application owns the
      // derived records, so this change must not delete what the dropped attributes derived.
      if (isCleanupOnly(migration, before, next)) return { kind: "unchanged", key };
      return withPrevious(migration, key, deriveRecords(migration, next), before);
    }
    default:
      throw new UnusableStreamRecordError(seq, `unknown eventName ${JSON.stringify(record.eventName)}`);
  }
}

/**
 * True when `oldImage` carries this migration's cleanup mark (kinds/table/delete-sources.ts):
 * the item was deleted by the remove step's sweep, which deletes only marked items, on the mark.
 */
export function isCleanupDelete(migration: Migration, oldImage: Record<string, unknown>): boolean {
  if (migration.kind !== "table" || !migration.cleanup?.deleteSourceItems) return false;
  const mark = oldImage[CLEANUP_MARK_ATTRIBUTE] as { migration?: unknown } | undefined;
  return !!mark && typeof mark === "object" && mark.migration === migration.id;
}

/**
 * The mark's nonce when a cleanup-deleted item held attributes the mark does not name (its backup
 * line lacks them); a mark without names (an older sweep's) counts as outlived, to be safe.
 */
function outlivedBackup(oldImage: Record<string, unknown>): string | undefined {
  const mark = oldImage[CLEANUP_MARK_ATTRIBUTE] as { nonce?: unknown; names?: unknown };
  if (typeof mark.nonce !== "string") return undefined;
  if (!Array.isArray(mark.names)) return mark.nonce;
  const named = new Set(mark.names);
  const outlived = Object.keys(oldImage).some((name) => name !== CLEANUP_MARK_ATTRIBUTE && !named.has(name));
  return outlived ? mark.nonce : undefined;
}

function withoutMarkAttribute(image: Record<string, AttributeValue>): Record<string, AttributeValue> {
  const { [CLEANUP_MARK_ATTRIBUTE]: _mark, ...rest } = image;
  return rest;
}

/** True when `next` is `before` minus some of the migration's cleanup attributes, and nothing else changed. */
export function isCleanupOnly(migration: Migration, before: Record<string, unknown>, next: Record<string, unknown>): boolean {
  const removed = migration.cleanup?.removeAttributes ?? [];
  if (!removed.some((name) => name in before && !(name in next))) return false;
  const rest = { ...before };
  for (const name of removed) if (!(name in next)) delete rest[name];
  return isDeepStrictEqual(rest, next);
}

/** Plain values of a Lambda stream image (binary values arrive base64-encoded in the event JSON). */
export function fromLambdaImage(image: Record<string, LambdaAttributeValue>): Record<string, unknown> {
  return unmarshall(decodeImage(image));
}

function withPrevious(migration: Migration, key: ItemKey, puts: DerivedRecord[], oldImage: Record<string, unknown>): RecordPlan {
  let previous: DerivedRecord[];
  try {
    previous = deriveRecords(migration, oldImage);
  } catch (err) {
    // An old image that fails the schema or derive never produced records: nothing to delete.
    if (!isPoisonError(err)) throw err;
    return { kind: "apply", key, puts, deletes: [], invalidOldImage: err as FerryError };
  }
  const keys = recordKeysOf(migration);
  const desired = new Set(puts.map((r) => keyId(keys, r)));
  const deletes = previous.filter((r) => !desired.has(keyId(keys, r))).map((r) => keyOf(keys, r));
  const had = new Set(previous.map((r) => keyId(keys, r)));
  return { kind: "apply", key, puts, deletes, fresh: puts.map((r) => !had.has(keyId(keys, r))) };
}

/** A source item that derived nothing before (created, or now matching): every record is fresh. */
function allFresh(key: ItemKey, puts: DerivedRecord[]): RecordPlan {
  return { kind: "apply", key, puts, deletes: [], fresh: puts.map(() => true) };
}

function projectionOrUndefined(migration: Migration, image: Record<string, unknown>): Record<string, unknown> | undefined {
  try {
    return projectSource(migration, image);
  } catch (err) {
    if (err instanceof SourceSchemaError) return undefined;
    throw err;
  }
}

function required<T>(value: T | undefined, seq: string, problem: string): T {
  if (value === undefined) throw new UnusableStreamRecordError(seq, problem);
  return value;
}

function decodeImage(image: Record<string, LambdaAttributeValue>): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const [name, value] of Object.entries(image)) out[name] = decodeValue(value);
  return out;
}

function decodeValue(value: LambdaAttributeValue): AttributeValue {
  if (value.B !== undefined) return { B: toBytes(value.B) };
  if (value.BS !== undefined) return { BS: value.BS.map(toBytes) };
  if (value.L !== undefined) return { L: value.L.map(decodeValue) };
  if (value.M !== undefined) return { M: decodeImage(value.M) };
  return value as AttributeValue;
}

function toBytes(value: unknown): Uint8Array {
  return typeof value === "string" ? Buffer.from(value, "base64") : (value as Uint8Array);
}
