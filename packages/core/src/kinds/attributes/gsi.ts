/**
 * The global secondary index an attributes migration feeds (`index` in the file): its key
 * attributes and status from DescribeTable, and the guards on it. `add` refuses while the
 * table has no such index (it says how to add one keyed by the owned attributes); the first
 * move to v2 is refused until the index is ACTIVE and verify's index check found every sampled
 * key answered right.
 */
import { DescribeTableCommand, type DynamoDBClient, type TableDescription } from "@aws-sdk/client-dynamodb";
import type { Migration } from "../../definition/define-migration.ts";
import type { KeyAttribute, KeyType } from "../../dynamo/key-schema.ts";
import { TableNotFoundError, isMissingTable } from "../../dynamo/missing-table.ts";
import { GuardRefusedError } from "../../errors.ts";

/** What ferry needs to know of the index. */
export interface IndexInfo {
  name: string;
  status: string;
  /** Partition key first; types from the table's AttributeDefinitions. */
  keys: KeyAttribute[];
}

/** The index `name` of a described table, or undefined when it has none by that name. */
export function indexOf(table: TableDescription, name: string): IndexInfo | undefined {
  const gsi = table.GlobalSecondaryIndexes?.find((g) => g.IndexName === name);
  if (!gsi) return undefined;
  const typeOf = (n: string) => (table.AttributeDefinitions?.find((a) => a.AttributeName === n)?.AttributeType ?? "S") as KeyType;
  const ordered = [...(gsi.KeySchema ?? [])].sort((a, b) => (a.KeyType === "HASH" ? -1 : b.KeyType === "HASH" ? 1 : 0));
  return {
    name,
    status: gsi.IndexStatus ?? "ACTIVE",
    keys: ordered.map((k) => ({ name: k.AttributeName as string, type: typeOf(k.AttributeName as string) })),
  };
}

/** DescribeTable of `tableName`, and the migration's index on it (undefined: the table has none by that name). */
export async function readIndex(client: DynamoDBClient, tableName: string, indexName: string): Promise<IndexInfo | undefined> {
  let table: TableDescription | undefined;
  try {
    table = (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  } catch (err) {
    if (isMissingTable(err)) throw new TableNotFoundError(tableName);
    throw err;
  }
  if (!table) throw new TableNotFoundError(tableName);
  return indexOf(table, indexName);
}

/** add: the file names an index the table does not have. */
export class IndexMissingError extends GuardRefusedError {
  readonly guard = "index-exists";
  constructor(
    readonly migrationId: string,
    readonly tableName: string,
    readonly indexName: string,
    readonly attributes: string[],
  ) {
    const [pk, sk] = attributes;
    super(
      `add of ${migrationId} needs the global secondary index ${indexName} on ${tableName}, which has none by that name. ` +
        `Add it first, keyed by the attributes ferry sets (partition key ${pk}${sk ? `, sort key ${sk}` : ""}): ` +
        `\`aws dynamodb update-table --table-name ${tableName} --attribute-definitions AttributeName=${pk},AttributeType=S${sk ? ` AttributeName=${sk},AttributeType=S` : ""} ` +
        `--global-secondary-index-updates '[{"Create":{"IndexName":"${indexName}","KeySchema":[{"AttributeName":"${pk}","KeyType":"HASH"}${sk ? `,{"AttributeName":"${sk}","KeyType":"RANGE"}` : ""}],"Projection":{"ProjectionType":"ALL"}}}]'\` ` +
        "(or the same GlobalSecondaryIndexes entry in the table's CloudFormation/SST definition), then run `ferry add` again.",
    );
  }
}

/** move: the index is still being built (CREATING, or UPDATING after a change). */
export class IndexNotActiveError extends GuardRefusedError {
  readonly guard = "index-active";
  constructor(
    readonly migrationId: string,
    readonly indexName: string,
    readonly status: string,
  ) {
    super(
      `move of ${migrationId} needs the index ${indexName} ACTIVE before v2 reads it, but it is ${status}. ` +
        `Wait for it (\`aws dynamodb describe-table\` shows IndexStatus), then run \`ferry move ${migrationId} --to v2\` again.`,
    );
  }
}

/** move: verify's index check found sampled index keys whose Query did not return the expected items. */
export class IndexNotAnsweringError extends GuardRefusedError {
  readonly guard = "index-answers";
  override readonly forceable = true;
  constructor(
    readonly migrationId: string,
    readonly indexName: string,
    readonly mismatched: number,
    readonly sampled: number,
  ) {
    super(
      `move of ${migrationId} needs the index ${indexName} to answer, but ${mismatched} of ${sampled} sampled index keys returned other items than the table holds. ` +
        `Run \`ferry verify ${migrationId} --repair\` and check the index's key schema, or override with --force --reason "...".`,
    );
  }
}

/** The index key attributes that are owned attributes (whose values derive must give the index's types). */
export function ownedIndexKeys(migration: Pick<Migration, "attributes">, index: IndexInfo | undefined): KeyAttribute[] {
  return (index?.keys ?? []).filter((k) => migration.attributes?.includes(k.name));
}
