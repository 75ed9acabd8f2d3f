import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutCommand, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import {
  type DerivedRecord,
  InvalidMigrationError,
  OWNER_ATTRIBUTE,
  batchPutAll,
  defineMigration,
  deriveRecords,
  itemSize,
  keyId,
  loadMigration,
} from "@ferry/core";
import { generateWorkflows, WORKFLOWS_TABLE } from "@ferry/example-workflows";
import { convertPage } from "@ferry/core/backfill/page";
import { sourceConditionCheck, sourceUnchangedCondition } from "@ferry/core/backfill/source-condition";
import { dynamodbLocalWriteUnits, estimateItemWriteUnits, itemTransactionActions, transactionWriteUnits } from "@ferry/core/design/capacity";
import { CheckFailedError, checkMigration } from "@ferry/core/design/check";
import { planMigration } from "@ferry/core/design/plan";
import { ON_DEMAND_USD_PER_MILLION_WRITE_UNITS } from "@ferry/core/design/pricing";
import { sampleTable } from "@ferry/core/design/sample";
import { Command, type CommanderError } from "commander";
import { afterAll, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { checkCommand } from "../../packages/cli/src/commands/check.ts";
import { newCommand } from "../../packages/cli/src/commands/new.ts";
import { planCommand } from "../../packages/cli/src/commands/plan.ts";
import { endpoint, freshPlainTable, testClients } from "../support/dynamo.ts";

const m1 = await loadMigration("0001");
const m2 = await loadMigration("0002");
type Item = Record<string, unknown> & { PK: string; SK: string };
const workflows = (o: Parameters<typeof generateWorkflows>[0]) => [...generateWorkflows(o)] as unknown as Item[];

/** Writes one source item's records exactly as the backfill does; returns DynamoDB Local's ConsumedCapacity. */
async function convertOne(clients: ReturnType<typeof testClients>, table: string, migration: typeof m1, item: Item, records: DerivedRecord[]) {
  const check = sourceConditionCheck(table, { PK: item.PK, SK: item.SK }, sourceUnchangedCondition(migration, item));
  const out = await clients.doc.send(
    new TransactWriteCommand({
      TransactItems: [check, ...records.map((Item) => ({ Put: { TableName: table, Item } }))] as never,
      ReturnConsumedCapacity: "TOTAL",
    }),
  );
  return out.ConsumedCapacity?.[0]?.CapacityUnits;
}

describe("the write-unit model against DynamoDB Local's ConsumedCapacity", () => {
  it("predicts what a real ConditionCheck + Puts transaction consumes, for items of 1 to 50 KB", async () => {
    const clients = testClients();
    const table = await freshPlainTable(clients);
    const checked: string[] = [];
    for (const itemKb of [1, 3, 10, 50]) {
      const [item] = workflows({ tenants: 1, workflows: 1, contexts: 3, pool: 3, tasks: 4, itemKb, seed: itemKb });
      await clients.doc.send(new PutCommand({ TableName: table, Item: item }));
      for (const migration of [m1, m2]) {
        const records = deriveRecords(migration, item!);
        const consumed = await convertOne(clients, table, migration, item!, records);
        expect(consumed, `${migration.id} on a ${itemKb} KB item`).toBe(dynamodbLocalWriteUnits(itemTransactionActions(item!, records)));
        checked.push(`${itemKb} KB/${migration.id}: ${consumed} (AWS ${estimateItemWriteUnits(item!, records)})`);
      }
    }
    expect(checked).toHaveLength(8);
  });

  it("rounds each record and source to the same byte as DynamoDB at the KB boundaries", async () => {
    const clients = testClients();
    const table = await freshPlainTable(clients);
    const solo = await freshPlainTable(clients);
    for (const [sourceBytes, recordBytes] of [
      [4_096, 1_023],
      [4_097, 1_024],
      [1_000, 1_025],
      [9_000, 2_049],
    ] as const) {
      // A migration whose one record, owner stamp included, has exactly recordBytes bytes.
      let pad = 0;
      const migration = defineMigration({
        id: "0099_sized-record",
        description: "one record of a chosen size",
        table: "Workflows",
        keys: { partitionKey: { name: "PK", type: "S" }, sortKey: { name: "SK", type: "S" } },
        source: { skPrefix: "WF#" },
        schema: z.object({}),
        derive: (wf) => [{ PK: wf.PK, SK: `SIZED#${wf.SK}`, pad: "y".repeat(pad) }],
      });
      const base: Item = { PK: "tenant-0001", SK: `WF#s${sourceBytes}`, body: "" };
      const item: Item = { ...base, body: "x".repeat(sourceBytes - itemSize(base)) };
      pad = recordBytes - itemSize(deriveRecords(migration, item)[0]!);
      const records = deriveRecords(migration, item);
      expect([itemSize(item), itemSize(records[0]!)]).toEqual([sourceBytes, recordBytes]);
      await clients.doc.send(new PutCommand({ TableName: table, Item: item }));
      const consumed = await convertOne(clients, table, migration, item, records);
      expect(consumed, `source ${sourceBytes} B, record ${recordBytes} B`).toBe(dynamodbLocalWriteUnits(itemTransactionActions(item, records)));
      // Alone in a transaction, a Put costs DynamoDB Local twice the AWS rate: same rounding.
      const put = await clients.doc.send(
        new TransactWriteCommand({ TransactItems: [{ Put: { TableName: solo, Item: records[0]! } }], ReturnConsumedCapacity: "TOTAL" }),
      );
      expect(put.ConsumedCapacity?.[0]?.CapacityUnits).toBe(2 * transactionWriteUnits([{ kind: "Put", bytes: recordBytes }]));
    }
  });
});

/** 120 workflows plus 55 items that are not 0001's sources, some under the same WF# prefix. */
async function mixedTable(clients: ReturnType<typeof testClients>) {
  const table = await freshPlainTable(clients);
  const sources = workflows({ tenants: 2, workflows: 60, contexts: 2, pool: 20, tasks: 3, itemKb: 2, seed: 5 });
  const owner = { PK: sources[0]!.PK, SK: sources[0]!.SK };
  const others: Item[] = [
    ...sources.slice(0, 30).map((w) => ({ PK: w.PK, SK: `${w.SK}#TASK#t1`, name: "child" })), // not matching skPattern
    ...Array.from({ length: 20 }, (_, i) => ({ PK: "tenant-0001", SK: `META#${i}`, note: "other data" })),
    ...Array.from({ length: 5 }, (_, i) => ({ PK: "tenant-0002", SK: `WF#stamped${i}`, [OWNER_ATTRIBUTE]: { migration: m1.id, owner } })),
  ];
  await batchPutAll(clients.doc, table, [...sources, ...others]);
  return { table, sources, others };
}

describe("ferry plan on a seeded table with non-source items", () => {
  it("counts exactly the source items and totals the per-item model", async () => {
    const clients = testClients();
    const { table, sources, others } = await mixedTable(clients);
    const plan = await planMigration(clients, table, m1, { sample: 10_000 });
    expect(plan.sourceItems).toEqual({ count: 120, exact: true });
    expect(plan.table.items).toBe(sources.length + others.length);
    expect(plan.table.bytes).toBe([...sources, ...others].reduce((n, i) => n + itemSize(i), 0));
    expect(plan.records.total).toBe(240);
    expect(plan.recordsPerItem).toEqual({ mean: 2, max: 2 });
    const units = sources.reduce((n, w) => n + estimateItemWriteUnits(w, deriveRecords(m1, w)), 0);
    expect(plan.writeUnits.total).toBe(units);
    expect(plan.cost.writeUsd).toBeCloseTo((units / 1e6) * ON_DEMAND_USD_PER_MILLION_WRITE_UNITS, 12);
    expect(plan.durationSeconds).toBeCloseTo(120 / m1.options.rate, 10);
    expect(plan.notes.join("\n")).toMatch(/DynamoDB Local reports transactional capacity differently/);
  });

  it("counts them with a key-only scan when the sample is smaller than the table", async () => {
    const clients = testClients();
    const { table } = await mixedTable(clients);
    const counted = await planMigration(clients, table, m1, { sample: 10 });
    expect(counted.sample.complete).toBe(false);
    expect(counted.sourceItems).toEqual({ count: 120, exact: true });
    expect(counted.table.method).toMatch(/^counted with a key-only Scan of \d+ read units \(ItemCount said 175\)$/);
    const scaled = await planMigration(clients, table, m1, { sample: 10, countMaxItems: 0 });
    expect(scaled.sourceItems.exact).toBe(false);
    expect(scaled.table).toMatchObject({ items: 175, method: "DescribeTable ItemCount x the sample's share of source items" });
  });

  it("estimates the read units the backfill's eventually consistent scan really consumes", async () => {
    const clients = testClients();
    const table = await freshPlainTable(clients);
    await batchPutAll(clients.doc, table, workflows({ tenants: 3, workflows: 700, contexts: 2, pool: 50, tasks: 4, itemKb: 3, seed: 6 }));
    const plan = await planMigration(clients, table, m2, { sample: 10_000 });
    let consumed = 0;
    for (let segment = 0; segment < m2.options.segments; segment++) {
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await convertPage(clients.doc, table, m2, {
          segment,
          totalSegments: m2.options.segments,
          pageSize: m2.options.pageSize,
          startKey,
          dryRun: true,
        });
        consumed += page.counters.consumedReadUnits;
        startKey = page.lastKey;
      } while (startKey);
    }
    // A dry run only scans: its units are the plan's Scan share (the validation reads come on top in a real run).
    expect(consumed).toBeGreaterThan(750);
    expect(Math.abs(plan.readUnits.scan - consumed) / consumed).toBeLessThan(0.02);
  });
});

describe("ferry check on a seeded table", () => {
  it("reports bad real items and records that would overwrite other items, by key", async () => {
    const clients = testClients();
    const table = await freshPlainTable(clients);
    const good = workflows({ tenants: 1, workflows: 40, contexts: 2, pool: 10, itemKb: 1, seed: 9 });
    const notAList: Item = { ...good[0]!, SK: "WF#bad-contexts", contexts: "ctx-1" };
    const emptyId: Item = { ...good[1]!, SK: "WF#empty-context", contexts: [{ id: "", name: "none" }] };
    const victim = good[2]!;
    const occupied = { PK: victim.PK, SK: `CTX#${(victim.contexts as { id: string }[])[0]!.id}#${victim.SK}`, note: "written by hand" };
    await batchPutAll(clients.doc, table, [...good, notAList, emptyId, occupied]);
    const sample = await sampleTable(clients, table, m1, { size: 1_000 });
    const report = checkMigration(m1, { sampleItems: sample.sources, otherKeys: sample.otherKeys });
    expect(report.checked.sample).toBe(42);
    expect(report.problems.schemaMismatch.count).toBe(2);
    expect(report.problems.schemaMismatch.examples.map((e) => e.key.SK).sort()).toEqual(["WF#bad-contexts", "WF#empty-context"]);
    expect(report.problems.existingItemCollision.examples).toEqual([
      {
        origin: "sample",
        key: { PK: victim.PK, SK: victim.SK },
        message: `record PK="${occupied.PK}" SK="${occupied.SK}" would overwrite an item already in the table: an item of the application (no ferry owner stamp)`,
      },
    ]);
    expect(sample.otherKeys.has(keyId(WORKFLOWS_TABLE, occupied))).toBe(true);
    const bounded = await sampleTable(clients, table, m1, { size: 10, pageLimit: 5 });
    expect(bounded.sources).toHaveLength(10);
    expect(bounded.complete).toBe(false);
  });
});

describe("the new, check and plan commands", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function run(...args: string[]): Promise<{ out: string; error?: unknown }> {
    let out = "";
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    const program = new Command("ferry").exitOverride();
    for (const command of [newCommand(), checkCommand(), planCommand()]) program.addCommand(command.exitOverride());
    try {
      await program.parseAsync(["node", "ferry", ...args]);
      return { out };
    } catch (error) {
      return { out, error };
    } finally {
      spy.mockRestore();
    }
  }

  it("check exits 0 on a clean migration and 1 with the JSON report on seed 000's colliding key", async () => {
    const clients = testClients();
    const { table } = await mixedTable(clients);
    const clean = await run("check", "0001", "--endpoint", endpoint(), "--table", table, "--json");
    expect(clean.error).toBeUndefined();
    expect(JSON.parse(clean.out)).toMatchObject({ ok: true, checked: { sample: 120 }, sample: { table, complete: true } });
    const fixtures = join(import.meta.dirname, "../fixtures/migrations-valid");
    const bad = await run("check", "0001", "--migrations-dir", fixtures, "--endpoint", endpoint(), "--table", table, "--json");
    expect(bad.error).toBeInstanceOf(CheckFailedError);
    expect((bad.error as CheckFailedError).exitCode).toBe(1);
    const report = JSON.parse(bad.out);
    expect(report.problems.crossItemCollision.count).toBeGreaterThan(0);
    expect(report.problems.crossItemCollision.examples[0].message).toMatch(/^record PK="tenant-\d+" SK="CTX#ctx-\d+" is also derived by PK=/);
  });

  it("check prints an aligned table and plan prints its prices with their source", async () => {
    const clients = testClients();
    const { table } = await mixedTable(clients);
    const check = await run("check", "0002", "--endpoint", endpoint(), "--table", table, "--no-generated");
    expect(check.out).toMatch(/^kind\s+records: new records in the same table, each owned by a source item; remove deletes attributes tasks$/m);
    expect(check.out).toMatch(/^source items\s+0 generated, 120 sampled from /m);
    expect(check.out).toMatch(/^derive\(\) not deterministic\s+0$/m);
    expect(check.out).toMatch(/OK: no problems found\./);
    const plan = await run("plan", "0002", "--endpoint", endpoint(), "--table", table, "--rate", "60");
    expect(plan.out).toMatch(/^kind\s+records: new records in the same table/m);
    expect(plan.out).toMatch(/^source items\s+120 \(exact\)$/m);
    expect(plan.out).toMatch(/^duration\s+2 s at 60 source items\/s$/m);
    expect(plan.out).toMatch(/\$0\.625 per million write units, \$0\.125 per million read units/);
    expect(plan.out).toMatch(/us-east-1, on-demand, as of 2024-11-01: https:\/\/aws\.amazon\.com\/dynamodb\/pricing\/on-demand\//);
  });

  it("check and plan name each kind and what it owns: the attributes and their index, the target table", async () => {
    // Arrange
    const clients = testClients();
    const { table } = await mixedTable(clients);
    // Act
    const attributes = await run("check", "0003", "--sample", "0");
    const copy = await run("check", "0004", "--sample", "0");
    const plan = await run("plan", "0003", "--endpoint", endpoint(), "--table", table);
    // Assert
    expect(attributes.error).toBeUndefined();
    expect(attributes.out).toMatch(/^kind\s+attributes byStatusPk, byStatusSk on the source items, feeding index byStatus$/m);
    expect(copy.error).toBeUndefined();
    expect(copy.out).toMatch(/^kind\s+table: records copied into WorkflowsByContext$/m);
    expect(plan.error).toBeUndefined();
    expect(plan.out).toMatch(/^kind\s+attributes byStatusPk, byStatusSk on the source items, feeding index byStatus$/m);
  });

  it("new writes a file that check accepts, and a bad file is a usage error", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ferry-cli-new-"));
    dirs.push(dir);
    symlinkSync(join(import.meta.dirname, "../../node_modules"), join(dir, "node_modules"));
    const created = await run("new", "Index by status", "--migrations-dir", dir, "--json");
    expect(JSON.parse(created.out)).toEqual({ id: "0001_index-by-status", file: join(dir, "0001_index-by-status.ts") });
    const checked = await run("check", "index-by-status", "--migrations-dir", dir, "--sample", "0", "--json");
    expect(checked.error).toBeUndefined();
    expect(JSON.parse(checked.out).ok).toBe(true);
    const invalid = join(import.meta.dirname, "../fixtures/migrations-invalid/0006_sk-pattern-unanchored.ts");
    const refused = await run("plan", invalid, "--endpoint", endpoint());
    expect(refused.error).toBeInstanceOf(InvalidMigrationError);
    expect((refused.error as InvalidMigrationError).exitCode).toBe(2);
  });

  it.each(["new", "check", "plan"])("%s --help shows an example", async (name) => {
    const { out, error } = await run(name, "--help");
    expect((error as CommanderError).code).toBe("commander.helpDisplayed");
    expect(out).toMatch(new RegExp(`Example[^\\n]*\\n\\s+\\$ npx ferry ${name} `));
  });
});
