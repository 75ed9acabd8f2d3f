/**
 * Deleted images: the whole item a remove step's cleanup deleted (kinds/table/delete-sources.ts),
 * kept by the dual-write when the stream shows attributes the backup line lacks. The sweep backs
 * an item up after marking it and deletes it on every backed-up value, but an attribute the
 * application adds in between is not in that condition; the sweep appends the deleted item
 * (ReturnValues ALL_OLD) afterwards, and a crash between the delete and that append would lose
 * the attribute from the backup. The stream record of the delete is durable, so the dual-write,
 * which recognises the cleanup's REMOVE, stores its old image here (`deleted#<key>#<nonce>`),
 * and `ferry restore` prefers it over the backup line of the same mark. Items deleted with exactly
 * the backed-up attributes cost nothing here.
 */
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { controlRecords } from "../control/control-table.ts";
import { type ControlLocation, ControlSk, controlKey } from "../control/keys.ts";
import type { ItemKey } from "../dynamo/key-schema.ts";
import { unlessMissingTable } from "../dynamo/missing-table.ts";
import { decodeItem, encodeItem } from "./attribute-json.ts";

/** One deleted item, as the stream's old image held it (without the cleanup mark). */
export interface DeletedImage {
  /** The cleanup mark's nonce: which backup line this image completes. */
  nonce: string;
  item: Record<string, AttributeValue>;
}

/** Keeps `image` (idempotent: the same stream record writes the same record). */
export async function recordDeletedImage(location: ControlLocation, key: ItemKey, image: DeletedImage, sequenceNumber: string, at: number): Promise<void> {
  await location.doc.send(
    new PutCommand({
      TableName: location.controlTable,
      Item: {
        ...controlKey(location.migrationId, ControlSk.deletedImage(key, image.nonce)),
        nonce: image.nonce,
        // Exact DynamoDB JSON (numbers as strings, sets, base64 binary), as in a backup line.
        item: JSON.stringify(encodeItem(image.item)),
        sequenceNumber,
        at,
      },
    }),
  );
}

/** Every deleted image of the migration, by nonce (none when the control table is missing). */
export async function readDeletedImages(location: ControlLocation): Promise<Map<string, DeletedImage>> {
  const images = new Map<string, DeletedImage>();
  const read = async () => {
    for await (const record of controlRecords(location, ControlSk.deletedImagePrefix)) {
      const nonce = String(record.nonce);
      images.set(nonce, { nonce, item: decodeItem(JSON.parse(String(record.item))) });
    }
  };
  await unlessMissingTable(read(), undefined);
  return images;
}
