/**
 * The lifecycle's evidence in the migration's state record (control/migration-state.ts
 * holds the record and its one writer): the verify result the move guard reads and
 * `ferry status` shows.
 */
import { type MigrationState, updateState } from "../control/migration-state.ts";
import type { ControlLocation } from "../control/keys.ts";
import { unlessMissingTable } from "../dynamo/missing-table.ts";

/** A verify result as the state record keeps it (the move guard reads it, `ferry status` shows it). */
export type Verification = NonNullable<MigrationState["verification"]>;

/** The counts of a verify report that the state record keeps. */
export function verificationOf(
  report: { clean: boolean; missing: number; orphans: number; different: number; invalidSources: number },
  at: Date,
): Verification {
  return {
    at: at.toISOString(),
    clean: report.clean,
    missing: report.missing,
    orphans: report.orphans,
    different: report.different,
    invalidSources: report.invalidSources,
  };
}

/**
 * Keeps the latest verify result of a migration that has a state record (`ferry add` creates
 * it); a migration never added gets none. Returns whether it was recorded.
 */
export async function recordVerification(location: ControlLocation, verification: Verification): Promise<boolean> {
  // No control table yet: nothing was added.
  const updated = await unlessMissingTable(
    updateState(location, (state) => (state ? { ...state, verification } : undefined)),
    undefined,
  );
  return updated !== undefined;
}
