// The attributes kind's guards on the index it feeds: `ferry add` refuses (exit 3) while the
// table has no such GSI, saying how to add it; the first move's kind guard refuses until the
// index is ACTIVE and the move's verify found it answering.
import { loadMigration } from "@ferry/core";
import { migrationOnTable } from "@ferry/core/definition/table-keys";
import { attributesKind } from "@ferry/core/kinds/attributes";
import { IndexNotActiveError, IndexNotAnsweringError, indexOf } from "@ferry/core/kinds/attributes/gsi";
import type { VerifyReport } from "@ferry/core/verify/verifier";
import { describe, expect, it } from "vitest";
import { createAnyTable, ferry } from "../support/any-table.ts";
import { endpoint, testClients } from "../support/dynamo.ts";
import { KIND_ATTRIBUTES_MIGRATIONS } from "../support/kind-attributes.ts";

const KEYS = { partitionKey: { name: "id", type: "N" as const } };
const INDEX = { name: "byStatus", keys: { partitionKey: { name: "gsi1pk", type: "S" as const }, sortKey: { name: "gsi1sk", type: "N" as const } } };

describe("kind attributes: index guards", () => {
  it("add refuses a table without the index, naming the update-table call that adds it", async () => {
    const clients = testClients();
    const { table } = await createAnyTable(clients, "kattrg", KEYS);
    const out = await ferry(["add", "0001", "--table", table, "--endpoint", endpoint(), "--migrations-dir", KIND_ATTRIBUTES_MIGRATIONS]);
    expect(out.code).toBe(3);
    expect(out.stderr).toMatch(/needs the global secondary index byStatus on .*, which has none by that name/);
    expect(out.stderr).toMatch(
      /aws dynamodb update-table --table-name \S+ .*"KeySchema":\[\{"AttributeName":"gsi1pk","KeyType":"HASH"\},\{"AttributeName":"gsi1sk","KeyType":"RANGE"\}\]/,
    );
  }, 60_000);

  it("the first move needs the index ACTIVE and the move's verify to have found it answering", async () => {
    const clients = testClients();
    const { table, controlTable } = await createAnyTable(clients, "kattrm", KEYS, true, [INDEX]);
    const migration = await migrationOnTable(clients.doc, await loadMigration("0001", KIND_ATTRIBUTES_MIGRATIONS), table);
    const ctx = { clients, tableName: table, controlTable, migration };
    const report = (mismatched: number) => ({ index: { name: "byStatus", sampled: 4, mismatched, queries: 4, examples: [] } }) as unknown as VerifyReport;
    expect(await attributesKind.addProblems(ctx)).toEqual([]);
    expect(await attributesKind.moveProblems(ctx, report(0))).toEqual([]);
    const [wrong] = await attributesKind.moveProblems(ctx, report(2));
    expect(wrong).toBeInstanceOf(IndexNotAnsweringError);
    expect(wrong?.message).toMatch(/2 of 4 sampled index keys returned other items/);
    expect((await attributesKind.moveProblems(ctx))[0]).toBeInstanceOf(IndexNotAnsweringError);
    // DynamoDB Local builds an index at once; a table whose index is still CREATING is refused.
    const creating = indexOf(
      {
        AttributeDefinitions: [{ AttributeName: "gsi1pk", AttributeType: "S" }],
        GlobalSecondaryIndexes: [{ IndexName: "byStatus", IndexStatus: "CREATING", KeySchema: [{ AttributeName: "gsi1pk", KeyType: "HASH" }] }],
      },
      "byStatus",
    );
    expect(creating).toEqual({ name: "byStatus", status: "CREATING", keys: [{ name: "gsi1pk", type: "S" }] });
    expect(new IndexNotActiveError(migration.id, "byStatus", "CREATING").message).toMatch(
      /needs the index byStatus ACTIVE before v2 reads it, but it is CREATING/,
    );
  }, 60_000);
});
