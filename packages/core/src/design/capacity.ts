/**
 * The capacity model of a conversion, as the backfill runs it (backfill/page.ts): an
 * eventually consistent Scan (half a read unit per started 4 KB), one plain write per
 * derived record (a PartiQL INSERT: 1 WCU per started KB, as BatchWriteItem), one strongly
 * consistent validation read per source item (a read unit per started 4 KB of the whole
 * item: a projection does not make a read cheaper), and a transaction for each item that
 * changes while its page is in flight (2 WCU per started KB of every action). `ferry plan`
 * multiplies it out; DynamoDB Local counts transactions differently (dynamodbLocalWriteUnits).
 */
import type { DerivedRecord } from "../definition/define-migration.ts";
import { itemSize, readUnits, writeUnits } from "../dynamo/item-size.ts";
import { TRANSACTION_MAX_ACTIONS } from "../dynamo/transactions.ts";

/** One action of a TransactWriteItems call and the size of the item it touches. */
export interface TransactionAction {
  kind: "ConditionCheck" | "Put";
  bytes: number;
}

/** Scan pages stop at 1 MB whatever their Limit. */
export const SCAN_PAGE_MAX_BYTES = 1024 * 1024;
const READ_UNIT_BYTES = 4096;

/**
 * The actions the backfill sends for one source item: a ConditionCheck on the source (sized
 * as the whole stored item) and a Put per record. Over 99 records the item is split into
 * parts of 99 Puts, each with its own ConditionCheck (backfill/transactions.ts). No records,
 * no actions: the item is skipped.
 */
export function itemTransactionActions(sourceItem: Record<string, unknown>, records: readonly DerivedRecord[]): TransactionAction[] {
  const actions: TransactionAction[] = [];
  const checkBytes = itemSize(sourceItem);
  const perPart = TRANSACTION_MAX_ACTIONS - 1;
  for (let i = 0; i < records.length; i += perPart) {
    actions.push({ kind: "ConditionCheck", bytes: checkBytes });
    for (const record of records.slice(i, i + perPart)) actions.push({ kind: "Put", bytes: itemSize(record) });
  }
  return actions;
}

/** AWS: 2 write units per started KB of each action's item (prepare + commit). */
export function transactionWriteUnits(actions: readonly TransactionAction[]): number {
  return actions.reduce((sum, a) => sum + 2 * writeUnits(a.bytes), 0);
}

/**
 * Write units the conversion of one source item consumes on DynamoDB (AWS) when it does not
 * change while its page is in flight: one plain write per record (owner stamp included: it
 * is written too). Assumes the records do not exist yet; overwriting a bigger item costs
 * that item's size instead.
 */
export function estimateItemWriteUnits(_sourceItem: Record<string, unknown>, records: readonly DerivedRecord[]): number {
  return records.reduce((sum, r) => sum + writeUnits(itemSize(r)), 0);
}

/** Read units of one source item's validation read (strongly consistent, the whole item's size counts). */
export function estimateItemValidationReadUnits(sourceItem: Record<string, unknown>): number {
  return readUnits(itemSize(sourceItem), true);
}

/**
 * Write units of one repair (backfill/transactions.ts): a transaction with a ConditionCheck on
 * the source and a Put of every record, plus a Delete per stale record; modelled with the
 * same records deleted and put (a change that replaces every record: the dearer case).
 */
export function estimateItemRepairWriteUnits(sourceItem: Record<string, unknown>, records: readonly DerivedRecord[]): number {
  const deletes: TransactionAction[] = records.map((r) => ({ kind: "Put", bytes: itemSize(r) }));
  return transactionWriteUnits([...itemTransactionActions(sourceItem, records), ...deletes]);
}

/**
 * Source items expected to change while their page is in flight (between its Scan and its
 * validation read), which a repair then costs: at any moment `segments x pageSize` of the
 * `sources` items are in flight, a backfill at `rate` items/s lasts sources / rate seconds,
 * so `changesPerSecond` uniform changes hit an in-flight item changesPerSecond x segments x
 * pageSize / rate times in all (at most once per item).
 */
export function expectedRepairs(o: { sources: number; changesPerSecond: number; segments: number; pageSize: number; rate: number }): number {
  if (o.sources <= 0 || o.rate <= 0) return 0;
  return Math.min(o.sources, (o.changesPerSecond * o.segments * o.pageSize) / o.rate);
}

/**
 * What DynamoDB Local 1.25.1 reports as ConsumedCapacity for one TransactWriteItems call
 * (measured, not documented): a Put costs 4 units per started KB, a ConditionCheck 4 units
 * per started 4 KB, and actions of equal cost are counted once (10 Puts of 1 KB report 4).
 * Only for comparing a run on DynamoDB Local with the model; it says nothing about AWS.
 */
export function dynamodbLocalWriteUnits(actions: readonly TransactionAction[]): number {
  const distinct = new Set(actions.map((a) => (a.kind === "Put" ? 4 * writeUnits(a.bytes) : 4 * Math.max(1, Math.ceil(a.bytes / READ_UNIT_BYTES)))));
  return [...distinct].reduce((sum, units) => sum + units, 0);
}

export interface ScanShape {
  /** Items in the table (every item is read, source or not). */
  items: number;
  /** Their total size in bytes. */
  bytes: number;
  /** Scan Limit of each page. */
  pageSize: number;
  /** Parallel segments; each ends with its own partial page. */
  segments: number;
}

/**
 * Read units of a parallel Scan of the whole table: each page costs its bytes rounded up to
 * 4 KB, so the total is slightly above bytes / 4 KB; half that when eventually consistent
 * (the backfill's Scan, `consistent` false).
 */
export function estimateScanReadUnits(scan: ScanShape, consistent = true): number {
  if (scan.items <= 0 || scan.bytes <= 0) return 0;
  const meanBytes = scan.bytes / scan.items;
  const pageItems = Math.max(1, Math.min(scan.pageSize, Math.floor(SCAN_PAGE_MAX_BYTES / meanBytes)));
  const segmentItems = scan.items / Math.max(1, scan.segments);
  const fullPages = Math.floor(segmentItems / pageItems);
  const restBytes = (segmentItems - fullPages * pageItems) * meanBytes;
  const perSegment = fullPages * Math.ceil((pageItems * meanBytes) / READ_UNIT_BYTES) + Math.ceil(restBytes / READ_UNIT_BYTES);
  const units = Math.ceil(perSegment * Math.max(1, scan.segments));
  return consistent ? units : units / 2;
}
