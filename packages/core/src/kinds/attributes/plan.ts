/**
 * What one stream record means for an attributes migration: on INSERT and MODIFY the owned
 * attributes the new image should carry are derive(NewImage) (none when it is not, or no
 * longer, a source item); when the new image already carries exactly those, the record is
 * "unchanged" (this is also how ferry's own update is recognised when it comes back through
 * the stream: its new image holds what derive asks for, so it costs no write and no loop),
 * else the plan is one conditional update (kinds/attributes/update.ts). REMOVE: the item and
 * its attributes are gone, nothing to do. Pure: no I/O.
 */
import type { DynamoDBRecord } from "aws-lambda";
import { OWNER_ATTRIBUTE } from "../../definition/derive.ts";
import { type Migration, isSourceKey, keysOf } from "../../definition/define-migration.ts";
import { matchesSource } from "../../definition/source.ts";
import { keyOf } from "../../dynamo/key-schema.ts";
import { isPingKey } from "../../dualwrite/liveness-key.ts";
import { type RecordPlan, UnusableStreamRecordError, fromLambdaImage, isCleanupOnly } from "../../dualwrite/plan.ts";
import { deriveAttributes, holdsOwned, ownedOf } from "./derive.ts";

/** The plan for `record` under the attributes migration `migration`; throws a poison error when NewImage cannot be derived. */
export function planAttributesRecord(migration: Migration, record: DynamoDBRecord): RecordPlan {
  const stream = record.dynamodb ?? {};
  const seq = stream.SequenceNumber ?? "(no sequence number)";
  const newImage = stream.NewImage ? fromLambdaImage(stream.NewImage) : undefined;
  const oldImage = stream.OldImage ? fromLambdaImage(stream.OldImage) : undefined;
  const keys = stream.Keys ? fromLambdaImage(stream.Keys) : (newImage ?? oldImage ?? {});
  const keySchema = keysOf(migration);
  if (isPingKey(migration, keys))
    return { kind: "ping", key: keyOf(keySchema, keys), ...(typeof newImage?.nonce === "string" ? { nonce: newImage.nonce } : {}) };
  const latest = newImage ?? oldImage;
  // Another migration's derived record is never a source item (the same rule as everywhere).
  if (!isSourceKey(migration, keys) || (latest && OWNER_ATTRIBUTE in latest)) return { kind: "ignored", key: keys };
  const key = keyOf(keySchema, keys);
  switch (record.eventName) {
    case "REMOVE":
      // Nothing of the item is left to own (its attributes went with it); the change still moves the heartbeat.
      return { kind: "unchanged", key };
    case "INSERT":
    case "MODIFY": {
      if (!newImage) throw new UnusableStreamRecordError(seq, `${record.eventName} without NewImage`);
      if (record.eventName === "MODIFY" && !oldImage) throw new UnusableStreamRecordError(seq, "MODIFY without OldImage");
      const matches = matchesSource(migration, newImage);
      // Owned names are ferry's on every item the key selectors pick: one that does not match carries none.
      if (!matches && Object.keys(ownedOf(migration, newImage)).length === 0) return { kind: "ignored", key: keys };
      // The remove step's cleanup dropping old attributes: from then on they are not derive's input.
      if (oldImage && isCleanupOnly(migration, oldImage, newImage)) return { kind: "unchanged", key };
      // An item that stops matching loses the owned attributes (conditionally, like any write).
      const set = matches ? deriveAttributes(migration, newImage) : {};
      if (holdsOwned(migration, newImage, set)) return { kind: "unchanged", key };
      return { kind: "apply", key, puts: [], deletes: [], attributes: { image: newImage, set } };
    }
    default:
      throw new UnusableStreamRecordError(seq, `unknown eventName ${JSON.stringify(record.eventName)}`);
  }
}
