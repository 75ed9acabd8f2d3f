/**
 * The capacity model of a conversion: what the backfill's transactions and its Scan consume.
 * `ferry plan` multiplies it out; the backfill can compare it with the ConsumedCapacity it
 * gets back. On AWS a transactional write costs 2 WCU per started KB for every action,
 * ConditionCheck included; DynamoDB Local counts differently (see dynamodbLocalWriteUnits).
 */
import type { DerivedRecord } from "../definition/define-migration.ts";
import { itemSize, writeUnits } from "../dynamo/item-size.ts";
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
 * Write units the conversion of one source item consumes on DynamoDB (AWS), given the
 * records `deriveRecords` returned (owner stamp included: it is written too). Assumes the
 * records do not exist yet; overwriting a bigger item costs that item's size instead.
 */
export function estimateItemWriteUnits(sourceItem: Record<string, unknown>, records: readonly DerivedRecord[]): number {
  return transactionWriteUnits(itemTransactionActions(sourceItem, records));
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
 * Read units of a strongly consistent parallel Scan of the whole table: each page costs its
 * bytes rounded up to 4 KB, so the total is slightly above bytes / 4 KB.
 */
export function estimateScanReadUnits(scan: ScanShape): number {
  if (scan.items <= 0 || scan.bytes <= 0) return 0;
  const meanBytes = scan.bytes / scan.items;
  const pageItems = Math.max(1, Math.min(scan.pageSize, Math.floor(SCAN_PAGE_MAX_BYTES / meanBytes)));
  const segmentItems = scan.items / Math.max(1, scan.segments);
  const fullPages = Math.floor(segmentItems / pageItems);
  const restBytes = (segmentItems - fullPages * pageItems) * meanBytes;
  const perSegment = fullPages * Math.ceil((pageItems * meanBytes) / READ_UNIT_BYTES) + Math.ceil(restBytes / READ_UNIT_BYTES);
  return Math.ceil(perSegment * Math.max(1, scan.segments));
}
