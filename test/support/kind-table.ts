// The `table` kind's test support (issue 17): a source table of shop items and a RE-KEYED
// target (`ctx` S + `rank` N) with a foreign item ferry must never touch, the application
// writing at random in several lanes (thousands of operations in seconds), and the invariant
// computed without the engine: the target's records of the migration are exactly the union of
// derive(current source items), each stamped with its owner's source key. Tables, snapshots,
// the CLI and the killed backfill process come from any-table.ts (issue 16's driver).
import { CreateTableCommand } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { seededRandom } from "@ferry/core";
import { type InvariantReport, type TableKeys, createAnyTable, putAll } from "./any-table.ts";
import { scanAll, type testClients, uniqueTableName } from "./dynamo.ts";

type Item = Record<string, unknown>;
type Clients = ReturnType<typeof testClients>;

export const SOURCE_KEYS: TableKeys = { partitionKey: { name: "pk", type: "S" }, sortKey: { name: "sk", type: "S" } };
export const TARGET_KEYS: TableKeys = { partitionKey: { name: "ctx", type: "S" }, sortKey: { name: "rank", type: "N" } };
/** An item of the target ferry does not own: it must survive everything, rollback included. */
export const FOREIGN_ITEM = { ctx: "CAT#tea", rank: 7, note: "written by another service" };

const CATEGORIES = ["tea", "cups", "pots", "gifts"];

/** The test's own derive (the fixture's rule, written again): records in the target's names and types. */
export function expectedRecords(item: Item): Item[] {
  const base = {
    ctx: `CAT#${item.category}`,
    rank: (item.score as number) * 1_000_000 + (item.seq as number),
    shop: item.pk,
    item: item.sk,
    label: item.label,
  };
  return [base, ...(item.featured === true ? [{ ctx: "FEATURED", rank: item.seq, shop: item.pk, item: item.sk }] : [])];
}

export const isSource = (item: Item) => String(item.sk).startsWith("ITEM#");
const targetKey = (item: Item) => `${item.ctx}\u0000${item.rank}`;
const sourceKey = (item: Item) => `${item.pk}\u0000${item.sk}`;

/** A shop item; `seq` is unique per item (ranks never collide). */
export function shopItem(random: () => number, seq: number): Item {
  return {
    pk: `SHOP#${seq % 7}`,
    sk: `ITEM#${seq}`,
    seq,
    category: CATEGORIES[Math.floor(random() * CATEGORIES.length)],
    score: Math.floor(random() * 50),
    label: `l${Math.floor(random() * 1000)}`,
    ...(random() < 0.3 ? { featured: true } : {}),
  };
}

/** A source table (stream on) seeded with `count` items and the shops' profiles, and an empty re-keyed target holding the foreign item. */
export async function kindTableTables(clients: Clients, prefix: string, count: number, seed: number) {
  const { table, controlTable } = await createAnyTable(clients, prefix, SOURCE_KEYS);
  const target = uniqueTableName(`${prefix}-to`);
  await clients.raw.send(
    new CreateTableCommand({
      TableName: target,
      AttributeDefinitions: [
        { AttributeName: "ctx", AttributeType: "S" },
        { AttributeName: "rank", AttributeType: "N" },
      ],
      KeySchema: [
        { AttributeName: "ctx", KeyType: "HASH" },
        { AttributeName: "rank", KeyType: "RANGE" },
      ],
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
  await clients.doc.send(new PutCommand({ TableName: target, Item: FOREIGN_ITEM }));
  const random = seededRandom(seed);
  const sources = Array.from({ length: count }, (_, i) => shopItem(random, i + 1));
  const others = Array.from({ length: 7 }, (_, i) => ({ pk: `SHOP#${i}`, sk: "PROFILE", name: `shop ${i}`, score: 1 }));
  await putAll(clients, table, [...sources, ...others]);
  return { table, controlTable, target, sources, others };
}

/**
 * The application: `lanes` loops of random inserts, updates (Put of a changed item, or an
 * UpdateItem of one field) and deletes of source items, until `operations` are done or stop().
 */
export function shopWriter(clients: Clients, table: string, seed: number, sources: Item[], operations: number, lanes = 4) {
  const random = seededRandom(seed);
  const live = new Map(sources.map((i) => [sourceKey(i), i]));
  let next = 1_000 + sources.length;
  let writes = 0;
  let stopped = false;
  const lane = async () => {
    while (!stopped && writes < operations) {
      writes++;
      const keys = [...live.keys()];
      const pick = live.get(keys[Math.floor(random() * keys.length)] as string) as Item;
      const roll = random();
      if (roll < 0.2 || live.size < sources.length / 2) {
        const item = shopItem(random, next++);
        live.set(sourceKey(item), item);
        await clients.doc.send(new PutCommand({ TableName: table, Item: item }));
      } else if (roll < 0.35) {
        live.delete(sourceKey(pick));
        await clients.doc.send(new DeleteCommand({ TableName: table, Key: { pk: pick.pk, sk: pick.sk } }));
      } else if (roll < 0.6) {
        const score = Math.floor(random() * 50);
        live.set(sourceKey(pick), { ...pick, score });
        // Only on an item still there (another lane may have deleted it): a bare score is not a source item.
        await clients.doc
          .send(
            new UpdateCommand({
              TableName: table,
              Key: { pk: pick.pk, sk: pick.sk },
              UpdateExpression: "SET score = :s",
              ConditionExpression: "attribute_exists(pk)",
              ExpressionAttributeValues: { ":s": score },
            }),
          )
          .catch((err: Error) => {
            if (err.name !== "ConditionalCheckFailedException") throw err;
          });
      } else {
        const { featured: _f, ...rest } = pick;
        const changed = {
          ...rest,
          label: `l${Math.floor(random() * 1000)}`,
          category: CATEGORIES[Math.floor(random() * 4)],
          ...(random() < 0.4 ? { featured: true } : {}),
        };
        live.set(sourceKey(pick), changed);
        await clients.doc.send(new PutCommand({ TableName: table, Item: changed }));
      }
    }
  };
  // A key picked by two lanes at once could leave `live` unlike the table: the test reads the table itself at the end.
  const run = Promise.all(Array.from({ length: lanes }, lane));
  return {
    get writes() {
      return writes;
    },
    done: run.then(() => writes),
    async stop() {
      stopped = true;
      await run;
      return writes;
    },
  };
}

/** The invariant on the target, computed from a scan of both tables (never the engine's code). */
export async function targetInvariant(clients: Clients, table: string, target: string, migrationId: string): Promise<InvariantReport> {
  const expected = new Map<string, { record: Item; owner: Item }>();
  for (const item of await scanAll(clients, table)) {
    if (!isSource(item)) continue;
    for (const record of expectedRecords(item)) expected.set(targetKey(record), { record, owner: { pk: item.pk, sk: item.sk } });
  }
  const stored = (await scanAll(clients, target)).filter((i) => (i.ferry as { migration?: string } | undefined)?.migration === migrationId);
  const actual = new Map(stored.map((i) => [targetKey(i), i]));
  const report: InvariantReport = { missing: [], orphans: [], stale: [], expected: expected.size };
  for (const [key, { record, owner }] of expected) {
    const found = actual.get(key);
    if (!found) report.missing.push(key);
    else {
      const { ferry, ...rest } = found;
      if (canonical((ferry as { owner?: Item }).owner) !== canonical(owner) || canonical(rest) !== canonical(record)) report.stale.push(key);
    }
  }
  for (const key of actual.keys()) if (!expected.has(key)) report.orphans.push(key);
  return report;
}

const canonical = (value: unknown): string =>
  JSON.stringify(value, (_, v) =>
    v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
