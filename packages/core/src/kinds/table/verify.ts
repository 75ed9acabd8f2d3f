/**
 * `ferry verify` of a `table` migration, both ways: a scan of the source table checks that
 * every record derive(source) makes is in the target, exactly (missing, different), and a scan
 * of the target checks that every record stamped by this migration is still derived by its
 * owner (orphans: owner gone, not a source any more, or deriving other keys). Repairs use
 * verify/repair.ts's guarded transactions, whose owner check is on the source table and whose
 * writes are on the target. Under live writes (recheckAfterMs) both scans are run again after
 * the delay, up to `rechecks` times, and the last is reported: a target's suspects are keyed
 * by two schemas, so the per-item recheck of one table does not apply.
 */
import type { DynamoClients } from "../../aws/dynamodb.ts";
import { type Migration, recordTableOf } from "../../definition/define-migration.ts";
import { migrationOnTable } from "../../definition/table-keys.ts";
import type { ReadStats } from "../../dynamo/batch-get.ts";
import { type RepairCounts, ZERO_REPAIRS } from "../../verify/repair.ts";
import { recheckUntilClean } from "../../verify/recheck.ts";
import { VerifyTally } from "../../verify/tally.ts";
import { DEFAULT_VERIFY_OPTIONS, type VerifyOptions, type VerifyReport, scanPass, validateVerifyOptions } from "../../verify/verifier.ts";

/** Both scans into one tally (with `repairs`: fixing as they go). */
async function bothWays(
  clients: Pick<DynamoClients, "doc">,
  tableName: string,
  migration: Migration,
  o: VerifyOptions,
  stats: ReadStats,
  repairs?: RepairCounts,
) {
  const target = recordTableOf(migration, tableName);
  const tally = new VerifyTally(o.examples);
  await scanPass(clients.doc, tableName, migration, o, stats, repairs, { side: "sources", tally });
  await scanPass(clients.doc, tableName, migration, o, stats, repairs, { side: "records", scanTable: target.tableName, tally });
  return tally;
}

/** Verifies (and with `repair`, repairs) a `table` migration reading `tableName` into its target. */
export async function verifyTable(
  clients: Pick<DynamoClients, "doc">,
  tableName: string,
  migration: Migration,
  options: Partial<VerifyOptions> = {},
): Promise<VerifyReport> {
  const o: VerifyOptions = { ...DEFAULT_VERIFY_OPTIONS, ...options };
  validateVerifyOptions(o);
  const started = Date.now();
  const stats: ReadStats = { consumedReadUnits: 0, consumedWriteUnits: 0 };
  // Both tables' keys, checked (a missing target is TableNotFoundError, a mismatch KeySchemaMismatchError).
  migration = await migrationOnTable(clients.doc, migration, tableName);
  const scanned = await bothWays(clients, tableName, migration, o, stats);
  // The table kind judges again by scanning both tables again (their defects are not keyed by one table).
  const { tally: found, beforeRecheck } = await recheckUntilClean(o, scanned, () => bothWays(clients, tableName, migration, o, stats));
  const c = found.counts;
  let repaired: RepairCounts | undefined;
  if (o.repair) {
    repaired = { ...ZERO_REPAIRS };
    if (c.missing + c.orphans + c.different > 0) await bothWays(clients, tableName, migration, o, stats, repaired);
  }
  return {
    migrationId: migration.id,
    tableName,
    segments: o.segments,
    pageSize: o.pageSize,
    ...c,
    examples: found.examples(),
    clean: found.clean,
    elapsedMs: Date.now() - started,
    consumedReadUnits: stats.consumedReadUnits,
    consumedWriteUnits: stats.consumedWriteUnits,
    ...(beforeRecheck ? { beforeRecheck } : {}),
    ...(repaired ? { repaired } : {}),
  };
}
