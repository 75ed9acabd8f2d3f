/**
 * Who owns a record, and the write conditions that keep ferry off what it does not own. Every
 * derived record carries the owner stamp `ferry: { migration, owner }` (derive.ts); a Put by
 * a migration succeeds only on a free key or on a record of the same migration and owner,
 * and a Delete only on a record of the same migration (and owner, where it is known). A
 * refused write becomes a RecordOwnedElsewhereError naming both sides, never an overwrite.
 */
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { FerryError } from "../errors.ts";
import type { ItemKey, KeySchema } from "../dynamo/key-schema.ts";
import { OWNER_ATTRIBUTE, type OwnerStamp, keyText } from "./derive.ts";

/** The parts of a DynamoDB write that carry a condition. */
export interface WriteCondition {
  ConditionExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues: Record<string, unknown>;
}

const STAMP_NAMES = { "#ferryStamp": OWNER_ATTRIBUTE, "#ferryMigration": "migration", "#ferryOwner": "owner" };

/**
 * "Stamped by `migrationId` for `owner`": the stamp's migration and every key attribute of its
 * owner, under the source table's names (the owner's own: a `table` migration's records are
 * keyed by the target's schema, their owners by the source's).
 */
function ownedBy(_keys: KeySchema, migrationId: string, owner: ItemKey): WriteCondition {
  const names: Record<string, string> = { ...STAMP_NAMES };
  const values: Record<string, unknown> = { ":ferryMigration": migrationId };
  const clauses = ["#ferryStamp.#ferryMigration = :ferryMigration"];
  Object.keys(owner).forEach((name, i) => {
    names[`#ferryOwnerKey${i}`] = name;
    values[`:ferryOwnerKey${i}`] = owner[name];
    clauses.push(`#ferryStamp.#ferryOwner.#ferryOwnerKey${i} = :ferryOwnerKey${i}`);
  });
  return { ConditionExpression: clauses.join(" AND "), ExpressionAttributeNames: names, ExpressionAttributeValues: values };
}

/** A Put of `owner`'s record under `migrationId`: only on a free key or over the same migration's record of the same owner. */
export function ownedPutCondition(keys: KeySchema, migrationId: string, owner: ItemKey): WriteCondition {
  const owned = ownedBy(keys, migrationId, owner);
  return {
    ConditionExpression: `attribute_not_exists(#ferryPk) OR (${owned.ConditionExpression})`,
    ExpressionAttributeNames: { "#ferryPk": keys.partitionKey.name, ...owned.ExpressionAttributeNames },
    ExpressionAttributeValues: owned.ExpressionAttributeValues,
  };
}

/** A Delete of `owner`'s record: a key already gone passes (nothing happens), any other holder is refused. */
export function ownedDeleteCondition(keys: KeySchema, migrationId: string, owner: ItemKey): WriteCondition {
  return ownedPutCondition(keys, migrationId, owner);
}

/** A Delete that needs only the record to be this migration's (rollback, which does not know owners). */
export function migrationDeleteCondition(migrationId: string): WriteCondition {
  return {
    ConditionExpression: "#ferryStamp.#ferryMigration = :ferryMigration",
    ExpressionAttributeNames: { "#ferryStamp": OWNER_ATTRIBUTE, "#ferryMigration": "migration" },
    ExpressionAttributeValues: { ":ferryMigration": migrationId },
  };
}

/** Who holds an item, in words: "record of migration 0010_x (derived from pk=... sk=...)" or "an item of the application". */
export function holderText(item: Record<string, unknown> | undefined): string {
  if (!item) return "an item that was there at the time";
  const stamp = item[OWNER_ATTRIBUTE] as Partial<OwnerStamp> | undefined;
  if (stamp && typeof stamp === "object" && typeof stamp.migration === "string") {
    return `a record of migration ${stamp.migration}${stamp.owner ? ` (derived from ${keyText(stamp.owner)})` : ""}`;
  }
  return "an item of the application (no ferry owner stamp)";
}

/** The item a refused write returned (ReturnValuesOnConditionCheckFailure ALL_OLD), as plain values. */
export function plainItem(item: unknown): Record<string, unknown> | undefined {
  if (!item || typeof item !== "object") return undefined;
  const values = Object.values(item as Record<string, unknown>);
  // Errors are not unmarshalled by the document client: attribute values look like { S: "..." }.
  const marshalled =
    values.length > 0 &&
    values.every(
      (v) =>
        v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 1 && /^(S|N|B|SS|NS|BS|M|L|NULL|BOOL)$/.test(Object.keys(v)[0] as string),
    );
  try {
    return marshalled ? unmarshall(item as never) : (item as Record<string, unknown>);
  } catch {
    return item as Record<string, unknown>;
  }
}

/** A write of one migration's record refused because the key holds what another migration (or the application) owns. */
export class RecordOwnedElsewhereError extends FerryError {
  override readonly exitCode = 3;
  constructor(
    readonly migrationId: string,
    /** The source item whose record was refused. */
    readonly owner: ItemKey,
    /** The record's key. */
    readonly key: ItemKey,
    /** What holds the key, as found when the write was refused (undefined: not returned). */
    readonly holder: Record<string, unknown> | undefined,
    readonly action: "put" | "delete" = "put",
  ) {
    const heldBy = holderText(holder);
    super(
      `${migrationId} refused to ${action === "put" ? "overwrite" : "delete"} ${keyText(key)} (derived from ${keyText(owner)}): the key holds ${heldBy}. ` +
        `Nothing was written there. Change ${migrationId}'s derive so its keys cannot collide${
          heldBy.startsWith("a record of migration") ? ` with ${String((holder?.[OWNER_ATTRIBUTE] as OwnerStamp | undefined)?.migration)}` : ""
        }, then run \`ferry verify ${migrationId}\`.`,
    );
  }

  /** The other migration, when a migration's record holds the key. */
  get otherMigration(): string | undefined {
    const stamp = this.holder?.[OWNER_ATTRIBUTE] as Partial<OwnerStamp> | undefined;
    return typeof stamp?.migration === "string" ? stamp.migration : undefined;
  }
}
