/**
 * `ferry plan`: what converting a table will take. Samples the table, derives the sampled
 * source items, and scales the capacity model (capacity.ts) to the whole table: source
 * items, records, write and read units, duration at the rate cap, and on-demand dollars.
 */
import { type KindStatus, kindStatus } from "../kinds/describe.ts";
import type { DynamoClients } from "../aws/dynamodb.ts";
import { isLocalEndpoint } from "../aws/endpoint.ts";
import { type Migration, keysOf } from "../definition/define-migration.ts";
import { deriveRecords, keyOf, keyText } from "../definition/derive.ts";
import { withTableKeys } from "../definition/table-keys.ts";
import { DEFAULT_DERIVE_TIMEOUT_MS, withinTimeBudget } from "../definition/time-budget.ts";
import { itemSize, writeUnits } from "../dynamo/item-size.ts";
import { kindOf } from "../kinds/registry.ts";
import { FerryError } from "../errors.ts";
import { describeTable } from "../dynamo/table.ts";
import { estimateItemRepairWriteUnits, estimateItemValidationReadUnits, estimateItemWriteUnits, estimateScanReadUnits, expectedRepairs } from "./capacity.ts";
import { countSourceItems } from "./count.ts";
import { type CostEstimate, onDemandCost } from "./pricing.ts";
import { DEFAULT_SAMPLE_SIZE, type TableSample, TableNotFoundError, sampleTable } from "./sample.ts";

export interface PlanOptions {
  /** Source items to sample and derive. */
  sample: number;
  /** Backfill rate cap (source items/s); default: the migration's options.rate. */
  rate?: number;
  /** Count source items exactly (a key-only Scan) in tables up to this many items; above it, scale the sample. */
  countMaxItems: number;
  /** Application writes to source items per second during the backfill: what the expected repairs are scaled from. */
  changesPerSecond: number;
}

export const DEFAULT_PLAN_OPTIONS: PlanOptions = { sample: DEFAULT_SAMPLE_SIZE, countMaxItems: 1_000_000, changesPerSecond: 0 };

export interface Stat {
  mean: number;
  max: number;
}

export interface Plan {
  migrationId: string;
  /** The kind and what it owns (kinds/describe.ts). */
  kind: KindStatus;
  tableName: string;
  /** All items of the table (every one is scanned) and their bytes; `method` says how they were counted. */
  table: { items: number; bytes: number; method: string };
  sample: { scanned: number; sources: number; derived: number; failed: number; complete: boolean };
  sourceItems: { count: number; exact: boolean };
  recordsPerItem: Stat;
  recordBytes: Stat;
  records: { total: number; bytes: number };
  /** Write units per source item's plain writes (0 for items that derive nothing), and for the conversion: plain writes plus expected repairs. */
  writeUnits: Stat & { total: number; plain: number; repairs: number };
  /** Read units: the eventually consistent Scan of the whole table plus one strongly consistent validation read per source item. */
  readUnits: { total: number; scan: number; validation: number; pageSize: number; segments: number };
  /** Items expected to change while their page is in flight, each repaired by a transaction (capacity.ts expectedRepairs). */
  repairs: { expected: number; changesPerSecond: number; writeUnitsPerRepair: number };
  rate: number;
  durationSeconds: number;
  cost: CostEstimate;
  notes: string[];
}

/** Every sampled source item failed to derive: there is nothing to estimate from. */
export class PlanWithoutDerivedItemsError extends FerryError {
  constructor(
    readonly migrationId: string,
    readonly failed: number,
    readonly examples: string[],
  ) {
    super(
      `Cannot plan ${migrationId}: all ${failed} sampled source item(s) failed to derive, so any estimate would be $0. First: ${examples.join("; ")}. ` +
        `Run \`ferry check ${migrationId}\` and fix the migration file.`,
    );
  }
}

/** Plans `migration` on `tableName`. */
export async function planMigration(clients: DynamoClients, tableName: string, migration: Migration, options: Partial<PlanOptions> = {}): Promise<Plan> {
  const o = { ...DEFAULT_PLAN_OPTIONS, ...options };
  const sample = await sampleTable(clients, tableName, migration, { size: o.sample });
  // Bound to the table's keys (sampleTable refused a table that does not fit).
  migration = withTableKeys(migration, sample.keys, tableName);
  const derived = deriveSample(migration, sample.sources);
  if (derived.items === 0 && derived.failed > 0) throw new PlanWithoutDerivedItemsError(migration.id, derived.failed, derived.examples);
  const counts = await tableCounts(clients, tableName, migration, sample, o.countMaxItems);
  const sources = counts.sources;
  const table = { items: counts.items, bytes: counts.bytes, method: counts.method };
  const rate = o.rate ?? migration.options.rate;
  const { pageSize, segments } = migration.options;
  const repairs = expectedRepairs({ sources, changesPerSecond: o.changesPerSecond, segments, pageSize, rate });
  const plainTotal = Math.round(sources * derived.writeUnits.mean);
  const repairTotal = Math.round(repairs * derived.repairWriteUnits);
  const writeTotal = plainTotal + repairTotal;
  const scanUnits = estimateScanReadUnits({ ...table, pageSize, segments }, false);
  const validationUnits = Math.round(sources * derived.validationReadUnits);
  const readTotal = Math.ceil(scanUnits + validationUnits);
  const notes: string[] = [];
  if (derived.failed > 0) {
    notes.push(`${derived.failed} of ${sample.sources.length} sampled source items failed to derive and are left out: run \`ferry check ${migration.id}\`.`);
  }
  if (!counts.exact) {
    notes.push(
      `Source items scaled from a sample of ${sample.scanned} items; a partition's items come in sort-key order, so the share can be off. ` +
        "Raise --count-max-items above the table's item count to count them exactly.",
    );
  }
  notes.push("Not included: dual-write writes for items changed during the migration, storage of the new records.");
  if (o.changesPerSecond === 0) {
    notes.push(
      "Repairs assume no application writes during the backfill; pass --changes-per-second to count the items that change while their page is in flight.",
    );
  }
  if (isLocalEndpoint(clients.endpoint)) {
    notes.push("DynamoDB Local reports transactional capacity differently from AWS (and none for PartiQL writes); the units here are AWS's.");
  }
  return {
    migrationId: migration.id,
    kind: kindStatus(migration),
    tableName,
    table,
    sample: { scanned: sample.scanned, sources: sample.sourcesSeen, derived: derived.items, failed: derived.failed, complete: sample.complete },
    sourceItems: { count: sources, exact: counts.exact },
    recordsPerItem: derived.recordsPerItem,
    recordBytes: derived.recordBytes,
    records: { total: Math.round(sources * derived.recordsPerItem.mean), bytes: Math.round(sources * derived.bytesPerItem) },
    writeUnits: { ...derived.writeUnits, total: writeTotal, plain: plainTotal, repairs: repairTotal },
    readUnits: { total: readTotal, scan: scanUnits, validation: validationUnits, pageSize, segments },
    repairs: {
      expected: Math.round(repairs * 10) / 10,
      changesPerSecond: o.changesPerSecond,
      writeUnitsPerRepair: Math.round(derived.repairWriteUnits * 10) / 10,
    },
    rate,
    durationSeconds: sources / rate,
    cost: onDemandCost(writeTotal, readTotal),
    notes,
  };
}

interface DerivedSample {
  items: number;
  failed: number;
  /** The first failures: key and message. */
  examples: string[];
  recordsPerItem: Stat;
  recordBytes: Stat;
  bytesPerItem: number;
  writeUnits: Stat;
  /** Means per derived item: its validation read, and a repair of it. */
  validationReadUnits: number;
  repairWriteUnits: number;
}

function deriveSample(migration: Migration, sources: Record<string, unknown>[]): DerivedSample {
  let items = 0;
  let failed = 0;
  let records = 0;
  let recordsMax = 0;
  let bytes = 0;
  let bytesMax = 0;
  let units = 0;
  let unitsMax = 0;
  let validation = 0;
  let repair = 0;
  const examples: string[] = [];
  for (const item of sources) {
    let derived: ReturnType<typeof deriveRecords>;
    try {
      const run = (call: () => unknown) => withinTimeBudget(call, DEFAULT_DERIVE_TIMEOUT_MS);
      if (migration.kind === "attributes") {
        // In place: one UpdateItem billed on the whole item after it (summarize sizes it), no validation read, no transaction.
        const summary = kindOf(migration).summarize(migration, item, run);
        const itemUnits = summary.writeBytes.reduce((n, b) => n + writeUnits(b), 0);
        items++;
        records += summary.writes;
        recordsMax = Math.max(recordsMax, summary.writes);
        for (const size of summary.writeBytes) {
          bytes += size;
          bytesMax = Math.max(bytesMax, size);
        }
        units += itemUnits;
        unitsMax = Math.max(unitsMax, itemUnits);
        // A change while the page is in flight fails the update's condition: billed like the write, the stream then writes it.
        repair += itemUnits;
        continue;
      }
      derived = deriveRecords(migration, item, { run });
    } catch (err) {
      if (!(err instanceof FerryError)) throw err;
      failed++;
      if (examples.length < 3) examples.push(`${keyText(keyOf(keysOf(migration), item))}: ${err.message}`);
      continue;
    }
    items++;
    records += derived.length;
    recordsMax = Math.max(recordsMax, derived.length);
    for (const record of derived) {
      const size = itemSize(record);
      bytes += size;
      bytesMax = Math.max(bytesMax, size);
    }
    const itemUnits = estimateItemWriteUnits(item, derived);
    units += itemUnits;
    unitsMax = Math.max(unitsMax, itemUnits);
    validation += estimateItemValidationReadUnits(item);
    repair += estimateItemRepairWriteUnits(item, derived);
  }
  const per = (n: number) => (items ? n / items : 0);
  return {
    items,
    failed,
    examples,
    recordsPerItem: { mean: per(records), max: recordsMax },
    recordBytes: { mean: records ? bytes / records : 0, max: bytesMax },
    bytesPerItem: per(bytes),
    writeUnits: { mean: per(units), max: unitsMax },
    validationReadUnits: per(validation),
    repairWriteUnits: per(repair),
  };
}

interface TableCounts {
  items: number;
  bytes: number;
  sources: number;
  exact: boolean;
  method: string;
}

/** Items, bytes and source items of the whole table: exact up to `countMaxItems` items, else scaled from the sample. */
async function tableCounts(clients: DynamoClients, tableName: string, migration: Migration, sample: TableSample, countMaxItems: number): Promise<TableCounts> {
  if (sample.complete) {
    return { items: sample.scanned, bytes: sample.scannedBytes, sources: sample.sourcesSeen, exact: true, method: "the sample read the whole table" };
  }
  const description = await describeTable(clients.raw, tableName);
  if (!description) throw new TableNotFoundError(tableName);
  const meanBytes = sample.scanned ? sample.scannedBytes / sample.scanned : 0;
  const itemCount = description.ItemCount ?? 0;
  const sizeBytes = description.TableSizeBytes ?? 0;
  // AWS refreshes ItemCount and TableSizeBytes about every six hours: a table filled since
  // reports 0 or fewer items than this sample scanned. Then, or when the table is small
  // enough, count exactly (count.ts says why a sample's share is not enough).
  const stale = itemCount < sample.scanned;
  if (stale || itemCount <= countMaxItems) {
    const counted = await countSourceItems(clients, tableName, migration, countMaxItems);
    if (!counted.capped) {
      const bytes = !stale && sizeBytes > 0 ? sizeBytes : Math.round(counted.items * meanBytes);
      const method = `counted with a key-only Scan of ${counted.consumedReadUnits} read units (ItemCount said ${itemCount})`;
      return { items: counted.items, bytes, sources: counted.sources, exact: true, method };
    }
    if (stale) {
      const items = Math.max(counted.items, sample.scanned);
      return {
        items,
        bytes: Math.round(items * meanBytes),
        sources: Math.max(counted.sources, sample.sourcesSeen),
        exact: false,
        method: `at least: the count stopped at ${counted.items} items (ItemCount said ${itemCount}, stale)`,
      };
    }
  }
  const bytes = sizeBytes > 0 ? sizeBytes : Math.round(itemCount * meanBytes);
  return {
    items: itemCount,
    bytes,
    sources: Math.round((itemCount * sample.sourcesSeen) / sample.scanned),
    exact: false,
    method: "DescribeTable ItemCount x the sample's share of source items",
  };
}
