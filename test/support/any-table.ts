// Issue 16's lifecycle on a table that is not the example, shared by the three any-table
// tests: a table with the case's own key schema and a stream, seeded with source items and
// items the migration must never touch; then, as a user runs it, `ferry check`, `plan`,
// `add`, `ferry dual-write` (its own process) beside an application writing at random,
// `convert` SIGKILLed after its second page and `resume`d, the stream drained, the invariant
// checked independently of the engine, `verify`, the move guard (before the backfill, and
// with a record missing), and `rollback`. Short commands run through the CLI's own `main` in
// this process (a process per command costs seconds of tsx start-up on CI's two cores); the
// long-running and the killed ones are real processes.
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AttributeValue, CreateTableCommand, ScanCommand } from "@aws-sdk/client-dynamodb";
import { BatchWriteCommand, DeleteCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import { type Migration, loadMigration, seededRandom } from "@ferry/core";
import { listFailures } from "@ferry/core/dualwrite/failures";
import { listDeadLetters } from "@ferry/core/local/stream-dead-letters";
import { expect, inject, onTestFinished, vi } from "vitest";
import { main } from "../../packages/cli/src/main.ts";
import { type BinChoice, childArgv, ferryProcess } from "./cli.ts";
import { endpoint, scanAll, testClients, uniqueTableName } from "./dynamo.ts";
import { anyTableInput, claimPooledTable } from "./stream-pool.ts";

const root = join(import.meta.dirname, "../..");
/** The three tables' migration files (issue 16: "in the tests' own folder"). */
export const ANY_TABLE_MIGRATIONS = join(root, "test/fixtures/migrations-any-table");
export const ANY_TABLE_BAD_MIGRATIONS = join(root, "test/fixtures/migrations-any-table-bad");

type Item = Record<string, unknown>;
type RawItem = Record<string, AttributeValue>;
export type KeyType = "S" | "N" | "B";
/** A table's primary key, as the contract's KeySchema (packages/core/src/dynamo/key-schema.ts) has it. */
export interface TableKeys {
  partitionKey: { name: string; type: KeyType };
  sortKey?: { name: string; type: KeyType };
}

/** One table of the lifecycle tests. */
export interface AnyTableCase {
  /** Migration ref in `migrationsDir`, e.g. "0001". */
  migration: string;
  /** Folder of the migration file (default ANY_TABLE_MIGRATIONS). */
  migrationsDir?: string;
  /** Table name prefix. */
  prefix: string;
  keys: TableKeys;
  /** The seed: source items and others, in the table's names and types. */
  items(): Item[];
  /** The test's own idea of a source item (never the engine's). */
  isSource(item: Item): boolean;
  /** A new source item the application inserts (`n` is unique per write). */
  fresh(random: () => number, n: number): Item;
  /** The same source item as the application updates it (key unchanged). */
  change(random: () => number, item: Item): Item;
  /** Global secondary indexes of the table (kind attributes: the index the migration feeds). */
  indexes?: { name: string; keys: TableKeys }[];
  /** The invariant, computed without the engine (default: the records kind's, `invariant`). */
  invariant?: (clients: ReturnType<typeof testClients>, table: string, migration: Migration) => Promise<InvariantReport>;
  /** An item as the application wrote it, without the migration's derived state (default: as stored; stamped records are left out). */
  applicationView?: (raw: RawItem) => RawItem;
  /** Application writes the random writer makes at least (default 30), in parallel (default 1, ~50 writes/s), several items per BatchWriteItem (default 1). */
  writes?: { min: number; parallel: number; batch?: number };
  /**
   * How the move-guard step plants its one missing record (default: delete a derived record).
   * `stopDualWriteFirst`: a defect the dual-write would put right at once (kind attributes: its
   * own attributes removed come back through the stream) is planted after its clean stop.
   */
  moveDefect?: { stopDualWriteFirst: boolean; plant(run: LifecycleRun): Promise<void> };
  /** Extra assertions once the stream drained (e.g. counting the dual-write's writes). */
  afterDrain?: (ctx: LifecycleRun) => Promise<void>;
  /** Called after the dual-write stopped, before rollback: may write as the application and returns what the table must hold after rollback. */
  beforeRollback?: (ctx: LifecycleRun, applicationTable: RawItem[]) => Promise<RawItem[]>;
  /** Environment of the ferry processes (dual-write, convert), e.g. fault injection. */
  processEnv?: (ctx: { table: string; process: "dual-write" | "convert" }) => Record<string, string>;
}

/** What a case's hooks get. */
export interface LifecycleRun {
  clients: ReturnType<typeof testClients>;
  table: string;
  controlTable: string;
  migration: Migration;
  /** Application writes made while the dual-write and convert ran. */
  writes: number;
}

/** Time per phase, for the report. */
export type Timings = Record<string, number>;

const attrNames = (keys: TableKeys) => [keys.partitionKey.name, ...(keys.sortKey ? [keys.sortKey.name] : [])];
/** A stable text for an item's key (doc or raw form). */
export const keyString = (keys: TableKeys, item: Item | RawItem) => JSON.stringify(attrNames(keys).map((n) => item[n]));
const keyOnly = (keys: TableKeys, item: Item) => Object.fromEntries(attrNames(keys).map((n) => [n, item[n]]));
const stampOf = (item: Item) => item.ferry as { migration?: string; owner?: Item } | undefined;

/** A fresh table with `keys` and a NEW_AND_OLD_IMAGES stream, and its control table's name. */
/**
 * A fresh table of any key schema (stream on unless `stream` is false): with a stream, one of the
 * run's pooled tables when a pool has the schema (test/support/stream-pool.ts).
 */
export async function createAnyTable(
  clients: ReturnType<typeof testClients>,
  prefix: string,
  keys: TableKeys,
  stream = true,
  indexes: { name: string; keys: TableKeys }[] = [],
) {
  const input = anyTableInput(keys, stream, indexes);
  const pooled = stream && endpoint() === inject("dynamoEndpoints")[0] ? claimPooledTable(inject("streamPool"), input) : undefined;
  const table = pooled ?? uniqueTableName(prefix);
  if (!pooled) await clients.raw.send(new CreateTableCommand({ ...input, TableName: table }));
  return { table, controlTable: `${table}.ferry` };
}

export async function putAll(clients: ReturnType<typeof testClients>, table: string, items: Item[]): Promise<void> {
  for (let i = 0; i < items.length; i += 25) {
    let pending: Record<string, unknown>[] | undefined = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
    while (pending?.length) {
      const out = await clients.doc.send(new BatchWriteCommand({ RequestItems: { [table]: pending as never } }));
      pending = out.UnprocessedItems?.[table] as Record<string, unknown>[] | undefined;
    }
  }
}

/** Every item as DynamoDB stores it (AttributeValues: what "byte-identical" compares), sorted by key. */
export async function rawSnapshot(clients: ReturnType<typeof testClients>, table: string, keys: TableKeys): Promise<RawItem[]> {
  const items: RawItem[] = [];
  let start: RawItem | undefined;
  do {
    const page = await clients.raw.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start, ConsistentRead: true }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return sortByKey(keys, items);
}

const sortByKey = <T extends Item | RawItem>(keys: TableKeys, items: T[]) =>
  [...items].sort((a, b) => (keyString(keys, a) < keyString(keys, b) ? -1 : keyString(keys, a) > keyString(keys, b) ? 1 : 0));

export interface InvariantReport {
  missing: string[];
  orphans: string[];
  stale: string[];
  expected: number;
}

/**
 * The invariant, computed without the engine: this migration's stamped records are exactly the
 * union of derive(schema output + key attributes) over the current source items, each stamped
 * with its owner's key.
 */
export async function invariant(clients: ReturnType<typeof testClients>, table: string, c: AnyTableCase, migration: Migration): Promise<InvariantReport> {
  const items = await scanAll(clients, table);
  const expected = new Map<string, Item>();
  const owners = new Map<string, Item>();
  for (const item of items) {
    if (stampOf(item) || !c.isSource(item)) continue;
    const input = { ...(migration.schema.parse(item) as Item), ...keyOnly(c.keys, item) };
    for (const record of (migration.derive as unknown as (i: Item) => Item[])(input)) {
      expected.set(keyString(c.keys, record), record);
      owners.set(keyString(c.keys, record), keyOnly(c.keys, item));
    }
  }
  const actual = new Map(items.filter((i) => stampOf(i)?.migration === migration.id).map((i) => [keyString(c.keys, i), i]));
  const report: InvariantReport = { missing: [], orphans: [], stale: [], expected: expected.size };
  for (const [key, record] of expected) {
    const stored = actual.get(key);
    if (!stored) report.missing.push(key);
    else {
      const { ferry, ...rest } = stored;
      const sameOwner = canonical((ferry as { owner?: Item }).owner) === canonical(owners.get(key));
      if (!sameOwner || canonical(rest) !== canonical(record)) report.stale.push(key);
    }
  }
  for (const key of actual.keys()) if (!expected.has(key)) report.orphans.push(key);
  return report;
}

/** JSON with every object's keys sorted (DynamoDB keeps no attribute order). */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_, v) =>
    v && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );

/** Polls the invariant until it holds (the stream drained) or `timeoutMs` passes; returns the last report. */
export async function converged(check: () => Promise<InvariantReport>, timeoutMs = 60_000): Promise<InvariantReport> {
  const until = Date.now() + timeoutMs;
  let report = await check();
  while (Date.now() < until && report.missing.length + report.orphans.length + report.stale.length > 0) {
    await new Promise((r) => setTimeout(r, 300));
    report = await check();
  }
  return report;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

// One command at a time in this process: its stdout, stderr and exit code are process-wide (lifecycles of several seeds run side by side).
let queue: Promise<unknown> = Promise.resolve();

/** `ferry <args>` through the CLI's own entry point (main: parsing, exit codes, one-line errors) in this process. */
export function ferry(args: string[]): Promise<CliResult> {
  const run = queue.then(() => ferryNow(args));
  queue = run.catch(() => undefined);
  return run;
}

async function ferryNow(args: string[]): Promise<CliResult> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const capture = (into: string[]) => (chunk: string | Uint8Array) => {
    into.push(String(chunk));
    return true;
  };
  const out = vi.spyOn(process.stdout, "write").mockImplementation(capture(stdout));
  const err = vi.spyOn(process.stderr, "write").mockImplementation(capture(stderr));
  const saved = process.exitCode;
  process.exitCode = undefined;
  try {
    await main(["node", "ferry", ...args]);
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = saved;
  return { code, stdout: stdout.join(""), stderr: stderr.join("") };
}

/** The last JSON document a command printed. */
export const jsonOf = (result: CliResult) => JSON.parse(result.stdout.slice(result.stdout.lastIndexOf("\n{") + 1));

/** `ferry dual-write` in its own process, once it printed its first line (killed with the test). */
export async function dualWriteProcess(args: string[], env: NodeJS.ProcessEnv, choice: BinChoice = {}) {
  const started = ferryProcess(args, env, choice);
  onTestFinished(async () => void (await started.stop("SIGKILL")));
  await started.firstLine;
  return started;
}

/** `ferry convert|resume` in its own process (test/support/backfill-child.mts), which can SIGKILL itself after n pages. */
export function backfillProcess(
  args: string[],
  env: Record<string, string>,
  choice: BinChoice = {},
): { child: ChildProcess; exited: Promise<{ code: number | null; signal: string | null; stderr: string }> } {
  const child = spawn(process.execPath, [...childArgv("backfill-child", choice), ...args], {
    cwd: root,
    env: { ...process.env, AWS_ENDPOINT_URL_DYNAMODB: "", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d) => (stderr += d));
  return { child, exited: new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stderr }))) };
}

/** The application: random inserts, updates and deletes of source items (never other items) until stopped. */
export function randomWriter(clients: ReturnType<typeof testClients>, table: string, c: AnyTableCase, seed: number, sources: Item[]) {
  const random = seededRandom(seed);
  const live = new Map(sources.map((i) => [keyString(c.keys, i), i]));
  let stopped = false;
  let writes = 0;
  // Keys with a write in flight: parallel writers never race on one item, so `live` stays what the table holds.
  const busy = new Set<string>();
  let made = 0;
  const { min, parallel, batch } = { min: 30, parallel: 1, batch: 1, ...c.writes };
  // One write, or (batch > 1) one BatchWriteItem of several items' writes: each is its own stream record.
  const plan = (): { key: string; item?: Item; put?: Item } | undefined => {
    const keys = [...live.keys()].filter((k) => !busy.has(k));
    if (keys.length === 0) return undefined;
    const pick = live.get(keys[Math.floor(random() * keys.length)]!)!;
    const roll = random();
    if (roll < 0.2) {
      const item = c.fresh(random, made++);
      busy.add(keyString(c.keys, item));
      return { key: keyString(c.keys, item), put: item };
    }
    busy.add(keyString(c.keys, pick));
    if (roll < 0.35 && live.size > sources.length / 2) return { key: keyString(c.keys, pick), item: pick };
    return { key: keyString(c.keys, pick), put: c.change(random, pick) };
  };
  const loop = async () => {
    while (!stopped || writes < min) {
      const ops = Array.from({ length: batch }, plan).filter((o) => o !== undefined);
      if (ops.length === 1) {
        const [op] = ops as [{ key: string; item?: Item; put?: Item }];
        if (op.put) await clients.doc.send(new PutCommand({ TableName: table, Item: op.put }));
        else await clients.doc.send(new DeleteCommand({ TableName: table, Key: keyOnly(c.keys, op.item!) }));
      } else {
        let pending: Record<string, unknown>[] | undefined = ops.map((o) =>
          o.put ? { PutRequest: { Item: o.put } } : { DeleteRequest: { Key: keyOnly(c.keys, o.item!) } },
        );
        while (pending?.length) {
          const out = await clients.doc.send(new BatchWriteCommand({ RequestItems: { [table]: pending as never } }));
          pending = out.UnprocessedItems?.[table] as Record<string, unknown>[] | undefined;
        }
      }
      for (const op of ops) {
        if (op.put) live.set(op.key, op.put);
        else live.delete(op.key);
        busy.delete(op.key);
      }
      writes += ops.length;
      // ~50 writes/s per writer: a busy application, not a flood that outruns DynamoDB Local.
      if (parallel === 1 && batch === 1) await new Promise((r) => setTimeout(r, 20));
    }
  };
  const run = Promise.all(Array.from({ length: parallel }, loop));
  return {
    /** Stops writing; resolves with the write count and the source items as the application left them. */
    async stop() {
      stopped = true;
      await run;
      return { writes, sources: [...live.values()] };
    },
  };
}

/** Issue 16's whole lifecycle on `c`'s table; asserts every step and returns the time each phase took. */
export async function runLifecycle(c: AnyTableCase, seed: number): Promise<Timings> {
  const timings: Timings = {};
  let mark = Date.now();
  const lap = (phase: string) => {
    timings[phase] = Date.now() - mark;
    mark = Date.now();
    if (process.env.FERRY_TEST_LAPS) console.info(`${c.prefix}: ${phase} ${timings[phase]} ms`);
  };
  const clients = testClients();
  const dir = c.migrationsDir ?? ANY_TABLE_MIGRATIONS;
  const migration = await loadMigration(c.migration, dir);
  const { table, controlTable } = await createAnyTable(clients, c.prefix, c.keys, true, c.indexes);
  const view = c.applicationView ?? ((raw: RawItem) => raw);
  const processEnv = (role: "dual-write" | "convert") => c.processEnv?.({ table, process: role }) ?? {};
  const seedItems = c.items();
  await putAll(clients, table, seedItems);
  const before = await rawSnapshot(clients, table, c.keys);
  const isOtherRaw = (raw: RawItem) => raw.ferry === undefined && !c.isSource(unmarshall(raw));
  const othersBefore = before.filter(isOtherRaw);
  expect(othersBefore.length).toBeGreaterThan(0);
  const conn = ["--table", table, "--endpoint", endpoint(), "--migrations-dir", dir];
  const step = async (args: string[], code = 0) => {
    const result = await ferry([...args, ...conn]);
    expect(result.code, `ferry ${args.join(" ")}: ${result.stderr}`).toBe(code);
    return result;
  };
  lap("seed");

  // check and plan: derive on the migration's check items and real items of the table.
  const check = jsonOf(await step(["check", c.migration, "--json"]));
  expect(check).toMatchObject({ ok: true, problemCount: 0 });
  expect(check.checked.sample).toBe(seedItems.filter(c.isSource).length);
  await step(["plan", c.migration, "--json"]);
  lap("check+plan");

  // add; the first move is refused while nothing is converted.
  await step(["add", c.migration, "--actor", "ana"]);
  const early = await step(["move", c.migration, "--to", "v2"], 3);
  expect(early.stderr).toMatch(/needs the backfill completed/);
  lap("add");

  // The dual-write in its own process, the application writing beside it.
  // A case that preloads faults into its processes (NODE_OPTIONS) patches the SDK as the real bin loads it.
  const bin: BinChoice = c.processEnv ? { bin: "real" } : {};
  const dualWrite = await dualWriteProcess(
    ["dual-write", c.migration, "--poll-interval", "50", ...conn],
    { ...process.env, AWS_ENDPOINT_URL_DYNAMODB: "", ...processEnv("dual-write") },
    bin,
  );
  const writer = randomWriter(testClients(), table, c, seed, seedItems.filter(c.isSource));
  lap("dual-write start");

  // convert, SIGKILLed right after its second page's writes (before the checkpoint), then resume.
  const trace = join(tmpdir(), `ferry-any-${randomUUID()}.jsonl`);
  onTestFinished(() => rmSync(trace, { force: true }));
  const backfill = ["--lease-ms", "1000", ...conn];
  const killed = backfillProcess(
    ["convert", c.migration, "--segments", "2", "--page-size", "10", "--rate", "300", ...backfill],
    {
      FERRY_BACKFILL_TRACE: trace,
      FERRY_TEST_KILL_AFTER_PAGES: "2",
      ...processEnv("convert"),
    },
    bin,
  );
  const exit = await killed.exited;
  expect(exit.signal, exit.stderr).toBe("SIGKILL");
  lap("convert (killed)");
  const resumed = jsonOf(await step(["resume", c.migration, "--json", ...backfill]));
  expect(resumed.status).toBe("completed");
  lap("resume");

  const { writes, sources } = await writer.stop();
  expect(writes).toBeGreaterThanOrEqual(Math.max(30, c.writes?.min ?? 0));
  const report = await converged(() => (c.invariant ? c.invariant(clients, table, migration) : invariant(clients, table, c, migration)));
  expect(report).toMatchObject({ missing: [], orphans: [], stale: [] });
  expect(report.expected).toBeGreaterThan(0);
  const run: LifecycleRun = { clients, table, controlTable, migration, writes };
  await c.afterDrain?.(run);
  lap("drain");

  const verify = jsonOf(await step(["verify", c.migration, "--json"]));
  expect(verify).toMatchObject({ clean: true, missing: 0, orphans: 0, different: 0 });
  // Nothing but this migration's records changed: other items as seeded, sources as the application wrote them.
  const converted = await rawSnapshot(clients, table, c.keys);
  const notDerived = converted.filter((raw) => raw.ferry === undefined).map(view);
  expect(notDerived.filter(isOtherRaw)).toEqual(othersBefore);
  const applicationTable = sortByKey(c.keys, [...othersBefore, ...sources.map((s) => marshall(s))]);
  expect(notDerived).toEqual(applicationTable);
  lap("verify");

  // The move guard reads this table's records: one missing refuses the first move; repaired, it passes.
  // Rollback comes after a clean stop of the dual-write; a defect it would undo is planted after that stop.
  const stopDualWrite = async () => expect(await dualWrite.stop("SIGINT")).toBe(130);
  if (c.moveDefect?.stopDualWriteFirst) await stopDualWrite();
  if (c.moveDefect) await c.moveDefect.plant(run);
  else {
    const derived = await scanAll(clients, table).then((items) => items.filter((i) => stampOf(i)?.migration === migration.id));
    await clients.doc.send(new DeleteCommand({ TableName: table, Key: keyOnly(c.keys, derived[0]!) }));
  }
  const dirty = await step(["move", c.migration, "--to", "v2", "--percent", "25"], 3);
  expect(dirty.stderr).toMatch(/1 missing, 0 orphan and 0 different/);
  expect(jsonOf(await step(["verify", c.migration, "--repair", "--json"]))).toMatchObject({ missing: 1 });
  expect(jsonOf(await step(["verify", c.migration, "--json"]))).toMatchObject({ clean: true, missing: 0 });
  await step(["move", c.migration, "--to", "v2", "--percent", "25"]);
  lap("move guard");

  // Rollback after a clean stop of the dual-write: exactly the application's table is left.
  if (!c.moveDefect?.stopDualWriteFirst) await stopDualWrite();
  const location = { doc: clients.doc, controlTable, migrationId: migration.id };
  expect(await listDeadLetters(location)).toEqual([]);
  expect(await listFailures(location)).toEqual([]);
  const afterRollback = c.beforeRollback ? await c.beforeRollback(run, applicationTable) : applicationTable;
  const rolled = jsonOf(await step(["rollback", c.migration, "--json"]));
  expect(rolled.status).toBe("rolled-back");
  expect(await rawSnapshot(clients, table, c.keys)).toEqual(afterRollback);
  lap("rollback");
  return timings;
}
