// Changes of one source item within a batch are folded into one write per key (dualwrite/applier.ts ApplyWindow.merge),
// on DynamoDB Local: the last state per item wins under any interleaving, and a failure is still reported on the change that failed.
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { type DynamoClients, type Migration, deriveRecords, ensureControlTable, keyId, loadMigration, ownerOf } from "@ferry/core";
import { WORKFLOWS_TABLE, generateWorkflows } from "@ferry/example-workflows";
import { createDualWriteHandler } from "@ferry/functions/dual-write";
import type { DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import { beforeAll, describe, expect, it } from "vitest";
import { freshPlainTable, scanAll, testClients } from "../support/dynamo.ts";

process.env.POWERTOOLS_LOG_LEVEL ??= "SILENT";

type Item = Record<string, unknown>;
type Change = { before?: Item; after?: Item };
let migration: Migration;
beforeAll(async () => {
  migration = await loadMigration("0001");
});

function streamOf(changes: Change[]): DynamoDBStreamEvent {
  const Records = changes.map(({ before, after }, i): DynamoDBRecord => {
    const image = (after ?? before) as Item;
    return {
      eventID: `e-${i}`,
      eventName: !before ? "INSERT" : !after ? "REMOVE" : "MODIFY",
      eventSource: "aws:dynamodb",
      dynamodb: {
        ApproximateCreationDateTime: 1_795_409_040 + i,
        Keys: marshall({ PK: image.PK, SK: image.SK }) as never,
        ...(after ? { NewImage: marshall(after, { removeUndefinedValues: true }) as never } : {}),
        ...(before ? { OldImage: marshall(before, { removeUndefinedValues: true }) as never } : {}),
        SequenceNumber: String(3_000_000 + i),
        StreamViewType: "NEW_AND_OLD_IMAGES",
      },
    };
  });
  return { Records };
}

/** Counts PutItem/DeleteItem calls to the data table. */
function countWrites(clients: DynamoClients, table: string) {
  const counts = { writes: 0 };
  clients.raw.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { TableName?: string };
      if ((context.commandName === "PutItemCommand" || context.commandName === "DeleteItemCommand") && input.TableName === table) counts.writes++;
      return next(args);
    },
    { step: "initialize", name: "countWrites" },
  );
  return counts;
}

async function setup() {
  const clients = testClients();
  const table = await freshPlainTable(clients, "dwc");
  const control = `${table}.ferry`;
  await ensureControlTable(clients.raw, control);
  return { clients, table, handler: createDualWriteHandler({ migration, doc: clients.doc, tableName: table, controlTable: control }) };
}

const derived = async (clients: DynamoClients, table: string) =>
  (await scanAll(clients, table))
    .filter((i) => ownerOf(i, migration.id))
    .map((i) => keyId(WORKFLOWS_TABLE, i))
    .sort();
const expectedKeys = (items: Item[]) =>
  items
    .flatMap((i) => deriveRecords(migration, i as never))
    .map((r) => keyId(WORKFLOWS_TABLE, r))
    .sort();
const withContexts = (item: Item, ids: string[]) => ({ ...item, contexts: ids.map((id) => ({ id, name: `Context ${id}` })) });

/** One item's changes in order: inserted, its contexts changed `steps` times, maybe removed at the end. */
function chain(item: Item, states: string[][], removed: boolean): { changes: Change[]; last?: Item } {
  const images = states.map((ids) => withContexts(item, ids));
  const changes: Change[] = images.map((after, i) => (i === 0 ? { after } : { before: images[i - 1], after }));
  if (removed) changes.push({ before: images.at(-1) });
  return { changes, ...(removed ? {} : { last: images.at(-1) }) };
}

/** A random interleaving of the chains that keeps each chain's own order (seeded, so a failure reproduces). */
function interleave(chains: Change[][], seed: number): Change[] {
  let state = seed;
  const random = () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
  const queues = chains.map((c) => [...c]);
  const out: Change[] = [];
  while (queues.some((q) => q.length > 0)) {
    const open = queues.filter((q) => q.length > 0);
    out.push(open[Math.floor(random() * open.length)]?.shift() as Change);
  }
  return out;
}

describe("dual-write coalescing within a batch", () => {
  it("keeps the last state of every item under any interleaving of their changes, with fewer writes than one per change", async () => {
    const items = [...generateWorkflows({ tenants: 1, workflows: 3, contexts: 2, pool: 10, tasks: 1, itemKb: 1, seed: 31 })] as Item[];
    const [a, b, c] = items as [Item, Item, Item];
    const chains = [
      chain(a, [["k-1", "k-2"], ["k-2"], ["k-1", "k-2"], ["k-3"]], false),
      chain(b, [["k-1"], ["k-2", "k-4"]], true),
      chain(c, [["k-5"], ["k-5", "k-6"], ["k-6"]], false),
    ];
    const lastStates = chains.flatMap((ch) => (ch.last ? [ch.last] : []));
    for (const seed of [1, 2, 3]) {
      const s = await setup();
      const event = streamOf(
        interleave(
          chains.map((ch) => ch.changes),
          seed,
        ),
      );
      const counts = countWrites(s.clients, s.table);

      expect(await s.handler(event), `seed ${seed}`).toEqual({ batchItemFailures: [] });

      expect(await derived(s.clients, s.table), `seed ${seed}`).toEqual(expectedKeys(lastStates));
      // One change at a time makes 20 writes here; folded, each key of an item is written once.
      expect(counts.writes, `seed ${seed}`).toBeLessThanOrEqual(12);
    }
  });

  it("reports the change that failed, not the first change of its item, when a folded window is refused", async () => {
    const s = await setup();
    const [a] = [...generateWorkflows({ tenants: 1, workflows: 1, contexts: 1, pool: 10, tasks: 1, itemKb: 1, seed: 32 })] as Item[];
    const a1 = withContexts(a as Item, ["k-1"]);
    const a2 = withContexts(a as Item, ["k-1", "k-taken"]);
    // The application already holds the key a2 would derive: a2 cannot be applied, a1 can.
    const taken = deriveRecords(migration, a2 as never).find((r) => String(r.SK).includes("k-taken")) as Item;
    await s.clients.doc.send(new PutCommand({ TableName: s.table, Item: { PK: taken.PK, SK: taken.SK, note: "the application's" } }));
    const event = streamOf([{ after: a1 }, { before: a1, after: a2 }]);

    const response = await s.handler(event);

    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([event.Records[1]?.dynamodb?.SequenceNumber]);
    expect(await derived(s.clients, s.table)).toEqual(expectedKeys([a1]));
  });
});
