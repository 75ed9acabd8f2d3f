/**
 * `ferry verify` for any kind: checks that the migration's derived state is exactly what
 * derive makes of the current source items, and with `repair` fixes it (the kind's module
 * says what that means: records, attributes in place, or a target table's records).
 */
import type { DynamoClients } from "../aws/dynamodb.ts";
import type { Migration } from "../definition/define-migration.ts";
import { kindOf } from "../kinds/registry.ts";
import type { VerifyOptions, VerifyReport } from "./verifier.ts";

/**
 * Verifies `migration` on `tableName` (its source table).
 *
 * @example
 * const report = await verifyMigration(clients, "Workflows", migration, { repair: true });
 * if (!report.clean) console.log(report.examples);
 */
export function verifyMigration(
  clients: Pick<DynamoClients, "doc">,
  tableName: string,
  migration: Migration,
  options: Partial<VerifyOptions> = {},
): Promise<VerifyReport> {
  return kindOf(migration).verify(clients, tableName, migration, options);
}
