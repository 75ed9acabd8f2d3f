/**
 * The race-safety condition of the backfill: "the source item is still exactly as read",
 * on the fields the migration's schema reads. derive is a pure function of those fields,
 * so if they are unchanged the records derived from the read are still right; if they
 * changed, the change is in the stream and the dual-write owns the item.
 */
import { type Migration, keysOf } from "../definition/define-migration.ts";
import { matchReadFields } from "../definition/source.ts";
import { type ItemKey, keyOf } from "../dynamo/key-schema.ts";

export interface SourceCondition {
  ConditionExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
}

/**
 * Condition that holds only while `item` still exists with the same read fields: the
 * schema's, and those `source.match` reads (so an item that stops matching is the stream's too).
 */
export function sourceUnchangedCondition(migration: Migration, item: Record<string, unknown>): SourceCondition {
  const names: Record<string, string> = { "#pk": keysOf(migration).partitionKey.name };
  const values: Record<string, unknown> = {};
  const clauses = ["attribute_exists(#pk)"];
  const fields = [...new Set([...migration.readFields, ...matchReadFields(migration, item)])];
  fields.forEach((field, i) => {
    names[`#f${i}`] = field;
    if (item[field] === undefined) {
      // Absent when read: it must still be absent (a schema default may stand in for it).
      clauses.push(`attribute_not_exists(#f${i})`);
    } else {
      values[`:v${i}`] = item[field];
      clauses.push(`#f${i} = :v${i}`);
    }
  });
  return {
    ConditionExpression: clauses.join(" AND "),
    ExpressionAttributeNames: names,
    ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
  };
}

/** A ConditionCheck action on the source item for TransactWriteItems. */
export function sourceConditionCheck(tableName: string, key: ItemKey, condition: SourceCondition) {
  return { ConditionCheck: { TableName: tableName, Key: key, ...condition } };
}

/** The ConditionCheck that `item` (a source item as read, any attributes) is unchanged. */
export function sourceItemCheck(tableName: string, migration: Migration, item: Record<string, unknown>) {
  return sourceConditionCheck(tableName, keyOf(keysOf(migration), item), sourceUnchangedCondition(migration, item));
}
