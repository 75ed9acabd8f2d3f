// ferry verify against DynamoDB Local: exact counts for each planted defect, repair, pages and segments, the command.
import { DeleteCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { type DerivedRecord, type DynamoClients, OWNER_ATTRIBUTE, batchPutAll, deriveRecords, keyOf, loadMigration, ownerOf } from "@ferry/core";
import { generateWorkflows } from "@ferry/example-workflows";
import { TableNotFoundError } from "@ferry/core/design/sample";
import { VerifyFailedError, type VerifyReport } from "@ferry/core/verify/verifier";
import { verifyMigration } from "@ferry/core/verify/verify-migration";
import { Command, CommanderError } from "commander";
import { afterEach, describe, expect, it, vi } from "vitest";
import { verifyCommand } from "../../packages/cli/src/commands/verify.ts";
import { dropTable, freshPlainTable, scanAll, testClients, uniqueTableName } from "../support/dynamo.ts";
import { invariantDiff } from "../support/invariant.ts";

const m1 = await loadMigration("0001");
const m2 = await loadMigration("0002");

type Item = Record<string, unknown>;
/** The example table's keys (PK, SK) of any item or record. */
type ItemKey = Item;

// DynamoDB Local keeps every table in memory for the whole run: drop ours when done.
const created: { clients: DynamoClients; table: string }[] = [];
async function tableFor(clients: DynamoClients): Promise<string> {
  const table = await freshPlainTable(clients);
  created.push({ clients, table });
  return table;
}
afterEach(async () => {
  for (const { clients, table } of created.splice(0)) await dropTable(clients, table);
});

interface Seeded {
  clients: DynamoClients;
  table: string;
  workflows: Item[];
}

/** A fresh table with workflows and the records of both example migrations: consistent by construction. */
async function seeded(options: Parameters<typeof generateWorkflows>[0] = {}): Promise<Seeded> {
  const clients = testClients();
  const table = await tableFor(clients);
  const workflows = [...generateWorkflows({ tenants: 2, workflows: 30, contexts: 2, pool: 10, tasks: 2, itemKb: 1, ...options })];
  await batchPutAll(clients.doc, table, workflows);
  await batchPutAll(
    clients.doc,
    table,
    workflows.flatMap((w) => [...deriveRecords(m1, w), ...deriveRecords(m2, w)]),
  );
  return { clients, table, workflows };
}

const put = (s: Seeded, item: Item) => s.clients.doc.send(new PutCommand({ TableName: s.table, Item: item }));
const del = (s: Seeded, key: ItemKey) => s.clients.doc.send(new DeleteCommand({ TableName: s.table, Key: { PK: key.PK, SK: key.SK } }));
const set = (s: Seeded, key: ItemKey, attribute: string, value: unknown) =>
  s.clients.doc.send(
    new UpdateCommand({
      TableName: s.table,
      Key: { PK: key.PK, SK: key.SK },
      UpdateExpression: "SET #a = :v",
      ExpressionAttributeNames: { "#a": attribute },
      ExpressionAttributeValues: { ":v": value },
    }),
  );
const key = (item: Item): ItemKey => keyOf(m1.keys!, item);
const defects = (r: VerifyReport) => ({ missing: r.missing, orphans: r.orphans, different: r.different, invalidSources: r.invalidSources });
const exampleKeys = (r: VerifyReport, kind: string) =>
  r.examples
    .filter((e) => e.kind === kind)
    .map((e) => `${e.key.PK}|${e.key.SK}`)
    .sort();
const id = (k: ItemKey) => `${k.PK}|${k.SK}`;

/** Plants one defect of each kind on distinct workflows; returns the keys each should be reported under. */
async function plantAll(s: Seeded) {
  const [a, b, c, d, e, f, g] = s.workflows as [Item, Item, Item, Item, Item, Item, Item];
  // missing: a record of a is deleted.
  const lost = deriveRecords(m1, a)[0]!;
  await del(s, lost);
  // different: a record of b is edited.
  const edited = deriveRecords(m1, b)[1]!;
  await set(s, edited, "wf", "WF#tampered");
  // orphan: c no longer lists its second context.
  const [kept, dropped] = deriveRecords(m1, c) as [DerivedRecord, DerivedRecord];
  await set(s, key(c), "contexts", (c.contexts as Item[]).slice(0, 1));
  // orphans: d is deleted, its two records stay.
  await del(s, key(d));
  // orphan: a record stamped for a workflow that never existed.
  const ghost = {
    PK: "tenant-0001",
    SK: "CTX#ctx-99999#WF#ghost",
    wf: "WF#ghost",
    [OWNER_ATTRIBUTE]: { migration: m1.id, owner: { PK: "tenant-0001", SK: "WF#ghost" } },
  };
  await put(s, ghost);
  // orphan: e's record restamped for f, which does not derive it.
  const stolen = deriveRecords(m1, e)[0]!;
  await set(s, stolen, OWNER_ATTRIBUTE, { migration: m1.id, owner: key(f) });
  // invalid source: g's contexts is not an array.
  await set(s, key(g), "contexts", "not-a-list");
  return {
    missing: [id(lost)],
    different: [id(edited)],
    orphan: [id(dropped), ...deriveRecords(m1, d).map(id), id(ghost), id(stolen)].sort(),
    invalidSource: [id(key(g))],
    kept,
    stolen,
    e,
    g,
  };
}

describe("ferry verify", () => {
  it("finds a table written with deriveRecords clean for both example migrations, with exact counts", async () => {
    const s = await seeded();
    for (const [migration, perWorkflow, other] of [
      [m1, 2, 120],
      [m2, 2, 120],
    ] as const) {
      const report = await verifyMigration(s.clients, s.table, migration, { segments: 3, pageSize: 25 });
      expect(report).toMatchObject({ migrationId: migration.id, scanned: 300, sources: 60, derived: 60 * perWorkflow, other, expected: 120 });
      expect(defects(report)).toEqual({ missing: 0, orphans: 0, different: 0, invalidSources: 0 });
      expect(report.clean).toBe(true);
      expect(report.examples).toEqual([]);
      expect(report.consumedReadUnits).toBeGreaterThan(0);
    }
  });

  it("reports each defect on its own with the exact count and example key", async () => {
    const cases: { name: string; plant: (s: Seeded) => Promise<string[]>; kind: string; expected: Partial<ReturnType<typeof defects>> }[] = [
      {
        name: "deleted record",
        kind: "missing",
        expected: { missing: 1 },
        plant: async (s) => {
          const r = deriveRecords(m1, s.workflows[5]!)[1]!;
          await del(s, r);
          return [id(r)];
        },
      },
      {
        name: "edited record",
        kind: "different",
        expected: { different: 1 },
        plant: async (s) => {
          const r = deriveRecords(m1, s.workflows[6]!)[0]!;
          await set(s, r, "extra", 1);
          return [id(r)];
        },
      },
      {
        name: "source no longer derives it",
        kind: "orphan",
        expected: { orphans: 1 },
        plant: async (s) => {
          const w = s.workflows[7]!;
          await set(s, key(w), "contexts", (w.contexts as Item[]).slice(1));
          return [id(deriveRecords(m1, w)[0]!)];
        },
      },
      {
        name: "source deleted",
        kind: "orphan",
        expected: { orphans: 2 },
        plant: async (s) => {
          await del(s, key(s.workflows[8]!));
          return deriveRecords(m1, s.workflows[8]!).map(id).sort();
        },
      },
      {
        name: "source is no longer a source item",
        kind: "orphan",
        expected: { orphans: 2 },
        plant: async (s) => {
          const w = s.workflows[9]!;
          // The owner key now holds another migration's record: not a source item of 0001.
          await put(s, { PK: w.PK, SK: w.SK, [OWNER_ATTRIBUTE]: { migration: "0099_other", owner: { PK: "x", SK: "y" } } });
          return deriveRecords(m1, w).map(id).sort();
        },
      },
      {
        name: "stamped for an owner that never existed",
        kind: "orphan",
        expected: { orphans: 1 },
        plant: async (s) => {
          const ghost = { PK: "tenant-0002", SK: "CTX#c#WF#nobody", [OWNER_ATTRIBUTE]: { migration: m1.id, owner: { PK: "tenant-0002", SK: "WF#nobody" } } };
          await put(s, ghost);
          return [id(ghost)];
        },
      },
      {
        name: "stamped for another owner that does not derive it",
        kind: "orphan",
        expected: { orphans: 1 },
        plant: async (s) => {
          const r = deriveRecords(m1, s.workflows[10]!)[0]!;
          await set(s, r, OWNER_ATTRIBUTE, { migration: m1.id, owner: key(s.workflows[11]!) });
          return [id(r)];
        },
      },
      {
        name: "contexts is not an array",
        kind: "invalidSource",
        expected: { invalidSources: 1 },
        plant: async (s) => {
          await set(s, key(s.workflows[12]!), "contexts", { id: "ctx-1" });
          return [id(key(s.workflows[12]!))];
        },
      },
    ];
    const s = await seeded();
    for (const c of cases) {
      const table = await tableFor(s.clients);
      const t = { ...s, table };
      await batchPutAll(s.clients.doc, table, await scanAll(s.clients, s.table));
      const keys = await c.plant(t);
      const report = await verifyMigration(s.clients, table, m1, { segments: 2, pageSize: 20 });
      expect(defects(report), c.name).toEqual({ missing: 0, orphans: 0, different: 0, invalidSources: 0, ...c.expected });
      expect(exampleKeys(report, c.kind), c.name).toEqual(keys);
      expect(report.clean, c.name).toBe(false);
    }
  });

  it("reports all defects together, with owners and reasons, and leaves the other migration clean", async () => {
    const s = await seeded();
    const planted = await plantAll(s);
    const report = await verifyMigration(s.clients, s.table, m1, { segments: 4, pageSize: 10 });
    expect(defects(report)).toEqual({ missing: 1, orphans: 5, different: 1, invalidSources: 1 });
    for (const kind of ["missing", "different", "orphan", "invalidSource"] as const) expect(exampleKeys(report, kind)).toEqual(planted[kind]);
    // The invalid source's own two records are not judged: its derive is undefined.
    expect(report.unchecked).toBe(2);
    const byKey = new Map(report.examples.map((e) => [`${e.kind}:${id(e.key)}`, e]));
    expect(byKey.get(`different:${planted.different[0]}`)?.detail).toBe("attributes differ: wf");
    expect(byKey.get(`invalidSource:${planted.invalidSource[0]}`)?.detail).toMatch(/^schema: contexts: /);
    expect(byKey.get(`orphan:${id(planted.stolen)}`)?.owner).toEqual(key(s.workflows[5]!));
    expect(byKey.get(`orphan:${id(planted.stolen)}`)?.detail).toBe("its owner no longer derives this key");
    // The same counts as the direct check of the invariant (which cannot read the invalid source).
    await set(s, key(planted.g), "contexts", planted.g.contexts);
    const direct = await invariantDiff(s.clients, s.table, m1);
    const after = await verifyMigration(s.clients, s.table, m1, { segments: 1, pageSize: 1000 });
    expect(after.missing).toBe(direct.missing.length);
    expect(after.orphans + after.different).toBe(direct.orphans.length + direct.different.length);
    const other = await verifyMigration(s.clients, s.table, m2, { segments: 2, pageSize: 50 });
    // 0002 reads only `tasks`: changed contexts mean nothing to it; the deleted workflow's task records are its orphans.
    expect(defects(other)).toEqual({ missing: 0, orphans: 2, different: 0, invalidSources: 0 });
  });

  it("repairs everything it finds, touches nothing else, and the next verify is clean", async () => {
    const s = await seeded();
    const planted = await plantAll(s);
    await set(s, key(planted.g), "contexts", planted.g.contexts); // an invalid source is the team's to fix
    const unrelated = { PK: "tenant-0001", SK: "NOTE#1", text: "not a record of any migration" };
    const foreign = { PK: "tenant-0001", SK: "CTX#zz#OTHER", [OWNER_ATTRIBUTE]: { migration: "0099_other", owner: { PK: "tenant-0001", SK: "WF#gone" } } };
    await put(s, unrelated);
    await put(s, foreign);
    const notMine = (items: Item[]) => items.filter((i) => !ownerOf(i, m1.id)).sort((x, y) => id(key(x)).localeCompare(id(key(y))));
    const before = notMine(await scanAll(s.clients, s.table));

    const report = await verifyMigration(s.clients, s.table, m1, { segments: 3, pageSize: 15, repair: true });
    expect(defects(report)).toEqual({ missing: 1, orphans: 5, different: 1, invalidSources: 0 });
    // Puts: the missing, the different, and the stolen key for its real owner; deletes: the orphans.
    // The stolen key's stale-stamp delete and its re-put race across segments: one of them may find the other done.
    expect(report.repaired?.put).toBe(3);
    expect((report.repaired?.deleted ?? 0) + (report.repaired?.skipped ?? 0)).toBe(5);
    expect(report.consumedWriteUnits).toBeGreaterThan(0);

    const again = await verifyMigration(s.clients, s.table, m1, { segments: 2, pageSize: 40 });
    expect(again.clean).toBe(true);
    expect(defects(again)).toEqual({ missing: 0, orphans: 0, different: 0, invalidSources: 0 });
    expect(await invariantDiff(s.clients, s.table, m1)).toMatchObject({ missing: [], orphans: [], different: [] });
    expect(notMine(await scanAll(s.clients, s.table))).toEqual(before);
    expect((await verifyMigration(s.clients, s.table, m2)).orphans).toBe(2); // the deleted workflow's task records: 0002's business
  });

  it("leaves a key held by an unrelated item alone and says so", async () => {
    const s = await seeded({ tenants: 1, workflows: 5 });
    const target = deriveRecords(m1, s.workflows[0]!)[0]!;
    const squatter = { PK: target.PK, SK: target.SK, note: "written by hand" };
    await put(s, squatter);
    const report = await verifyMigration(s.clients, s.table, m1, { repair: true });
    expect(report.missing).toBe(1);
    expect(report.examples[0]?.detail).toMatch(/an item that is not a derived record; not repaired/);
    expect(report.repaired).toEqual({ put: 0, deleted: 0, skipped: 1 });
    const items = await scanAll(s.clients, s.table);
    expect(items.find((i) => i.SK === target.SK)).toEqual(squatter);
  });

  it("gives exact counts across many pages and segments and caps the examples", async () => {
    // 1,000 workflows (4,000 items): 174 pages of 23 over 7 segments, 4 of 1,000 in one.
    const s = await seeded({ tenants: 1, workflows: 1_000, contexts: 2, pool: 50, tasks: 1, itemKb: 1 });
    const removed = s.workflows.filter((_, i) => i % 97 === 0); // 11 workflows deleted: 22 orphans
    for (const w of removed) await del(s, key(w));
    const lost = s.workflows.filter((_, i) => i % 89 === 1).map((w) => deriveRecords(m1, w)[0]!); // 12 missing
    for (const r of lost) await del(s, r);
    const edited = s.workflows.filter((_, i) => i % 101 === 2).map((w) => deriveRecords(m1, w)[1]!); // 10 different
    for (const r of edited) await set(s, r, "wf", "WF#x");
    const direct = await invariantDiff(s.clients, s.table, m1);
    expect([direct.missing.length, direct.orphans.length, direct.different.length]).toEqual([12, 22, 10]);

    for (const [segments, pageSize] of [
      [7, 23],
      [1, 1000],
      [16, 100],
    ] as const) {
      const report = await verifyMigration(s.clients, s.table, m1, { segments, pageSize, examples: 5 });
      expect(report).toMatchObject({ scanned: 1_000 - 11 + 2_000 - 12 + 1_000, sources: 989, derived: 2_000 - 12, other: 1_000 });
      expect(defects(report), `${segments} x ${pageSize}`).toEqual({ missing: 12, orphans: 22, different: 10, invalidSources: 0 });
      for (const kind of ["missing", "orphan", "different"]) {
        const shown = exampleKeys(report, kind);
        expect(shown).toHaveLength(5);
        const pool = kind === "missing" ? direct.missing : kind === "orphan" ? direct.orphans : direct.different;
        for (const k of shown) expect(pool).toContain(k);
      }
    }
  });

  it("keeps its memory flat: the heap retained while scanning 8,000 items stays far below their size", async () => {
    const { setFlagsFromString } = await import("node:v8");
    const { runInNewContext } = await import("node:vm");
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    // Few large items: the engine's cost is per item, the memory at stake per byte.
    const s = await seeded({ tenants: 2, workflows: 2_000, contexts: 1, pool: 100, tasks: 0, itemKb: 10 });
    s.workflows.length = 0; // the test's own copy must not count
    gc();
    const baseline = process.memoryUsage().heapUsed;
    let peak = 0;
    let pages = 0;
    const report = await verifyMigration(s.clients, s.table, m1, {
      segments: 4,
      pageSize: 50,
      onPage: () => {
        if (++pages % 10 !== 0) return;
        gc();
        peak = Math.max(peak, process.memoryUsage().heapUsed - baseline);
      },
    });
    expect(report.scanned).toBe(8_000);
    expect(report.clean).toBe(true);
    // 4,000 sources of ~10 KB are ~40 MB of data; holding them would retain far more than this.
    expect(peak).toBeLessThan(16 * 1024 * 1024);
    expect(pages).toBeGreaterThan(100);
  }, 180_000);
});

describe("ferry verify (command)", () => {
  async function run(args: string[]): Promise<{ out: string; error?: unknown }> {
    const chunks: string[] = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      chunks.push(String(chunk));
      return true;
    });
    let error: unknown;
    try {
      await new Command("ferry")
        .exitOverride()
        .addCommand(verifyCommand().exitOverride())
        .parseAsync(["node", "ferry", "verify", ...args]);
    } catch (err) {
      error = err;
    } finally {
      spy.mockRestore();
    }
    return { out: chunks.join(""), ...(error ? { error } : {}) };
  }

  it("prints the counts and exits 0 on a clean table, 1 with the examples when not, and repairs with --repair", async () => {
    const s = await seeded({ tenants: 1, workflows: 20 });
    const at = ["--endpoint", s.clients.endpoint!, "--table", s.table];
    const clean = await run(["0001", ...at]);
    expect(clean.error).toBeUndefined();
    expect(clean.out).toMatch(/scanned\s+100 item\(s\): 20 source item\(s\), 40 record\(s\) of this migration, 40 other/);
    expect(clean.out).toMatch(/result\s+clean/);

    const lost = deriveRecords(m1, s.workflows[3]!)[0]!;
    await del(s, lost);
    const broken = await run(["workflow-context-index", ...at, "--segments", "2", "--page-size", "7"]);
    expect(broken.error).toBeInstanceOf(VerifyFailedError);
    expect((broken.error as VerifyFailedError).exitCode).toBe(1);
    expect(broken.out).toMatch(/missing\s+1/);
    expect(broken.out).toContain(`SK="${lost.SK}"`);

    const json = await run(["0001", ...at, "--json"]);
    expect(json.error).toBeInstanceOf(VerifyFailedError);
    const parsed = JSON.parse(json.out) as VerifyReport;
    expect(parsed).toMatchObject({ missing: 1, clean: false, segments: 4, pageSize: 500 });
    expect(parsed.examples).toEqual([{ kind: "missing", key: key(lost), owner: key(s.workflows[3]!), detail: "not in the table" }]);

    const repaired = await run(["0001", ...at, "--repair", "--json"]);
    expect(repaired.error).toBeUndefined();
    expect(JSON.parse(repaired.out)).toMatchObject({
      missing: 1,
      clean: false,
      repaired: { put: 1, deleted: 0, skipped: 0 },
      recheck: { clean: true, missing: 0 },
    });
    expect((await run(["0001", ...at])).error).toBeUndefined();
  });

  it("has help with an example, rejects bad flags, and names a missing table", async () => {
    const help = await run(["--help"]);
    expect(help.error).toBeInstanceOf(CommanderError);
    expect(help.out).toContain("Example:");
    expect(help.out).toContain("--repair");
    const bad = await run(["0001", "--segments", "0"]);
    expect((bad.error as CommanderError).code).toBe("commander.invalidArgument");
    const clients = testClients();
    const missing = await run(["0001", "--endpoint", clients.endpoint!, "--table", uniqueTableName("absent")]);
    expect(missing.error).toBeInstanceOf(TableNotFoundError);
    expect((missing.error as TableNotFoundError).exitCode).toBe(2);
  });
});
