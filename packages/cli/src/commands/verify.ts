/** `ferry verify <migration>`: checks exactly that the table holds what the migration derives; `--repair` fixes it. */
import { type Migration, createDynamoClients, defaultControlTableName, defaultMigrationsDir, keyText, loadMigration } from "@ferry/core";
import { recordVerification, verificationOf } from "@ferry/core/lifecycle/state";
import {
  DEFAULT_VERIFY_OPTIONS,
  VERIFY_DEFECTS,
  type VerifyDefect,
  VerifyFailedError,
  type VerifyOptions,
  type VerifyReport,
  countOf,
} from "@ferry/core/verify/verifier";
import { verifyMigration } from "@ferry/core/verify/verify-migration";
import { Command } from "commander";
import { type ConnectionFlags, parseInteger, withConnectionFlags, withStageFlag, tableFor } from "../options.ts";
import { printJson, table } from "../output.ts";

interface VerifyFlags extends ConnectionFlags {
  repair?: boolean;
  segments: number;
  pageSize: number;
  examples: number;
  recheckAfter: number;
  migrationsDir?: string;
  controlTable?: string;
}

export function verifyCommand(): Command {
  const command = new Command("verify")
    .description("Scan the table and check that the migration's records are exactly what derive makes of the source items")
    .argument("<migration>", "migration number, name, id or file, e.g. 0001");
  withConnectionFlags(command);
  withStageFlag(command, []);
  return command
    .option(
      "--repair",
      "when not clean, scan again to put missing and different records and delete orphans (each write guarded by its owner), then verify again",
    )
    .option("--segments <n>", "parallel Scan segments", parseInteger(1, 1_000), DEFAULT_VERIFY_OPTIONS.segments)
    .option("--page-size <n>", "items per Scan page", parseInteger(1, 1_000), DEFAULT_VERIFY_OPTIONS.pageSize)
    .option("--examples <n>", "examples shown per kind of defect", parseInteger(0, 10_000), DEFAULT_VERIFY_OPTIONS.examples)
    .option(
      "--recheck-after <ms>",
      "on a live table: re-read the items behind each defect after this delay (up to 3 times) and report only what persists; 0 = off",
      parseInteger(0, 600_000),
      DEFAULT_VERIFY_OPTIONS.recheckAfterMs,
    )
    .option("--migrations-dir <dir>", "folder of migration files (default: FERRY_MIGRATIONS_DIR or ./migrations)")
    .option("--control-table <name>", "ferry's control table, where the result is kept for `ferry status` (default: FERRY_CONTROL_TABLE or <table>.ferry)")
    .addHelpText(
      "after",
      `
Exit codes: 0 consistent (after --repair: consistent once repaired), 1 defects found, 2 bad flags or migration file.
The result is kept with the migration (once added): \`ferry status\` shows it, and the first
\`ferry move --to v2\` runs its own verify.
Verify reads the whole table with consistent reads; on a live table a record the dual-write is
about to write can show as a defect: --recheck-after 2000 re-judges each defect once the
dual-write had time to apply it, or use --repair (it never overwrites newer data).

Example: check 0001 on the local table, then fix what is wrong
  $ npx ferry verify 0001 --endpoint http://127.0.0.1:8000 --segments 8
  $ npx ferry verify 0001 --endpoint http://127.0.0.1:8000 --repair`,
    )
    .action(async (ref: string, opts: VerifyFlags) => {
      const migration = await loadMigration(ref, opts.migrationsDir ?? defaultMigrationsDir());
      const tableName = tableFor(opts, migration);
      const clients = createDynamoClients({ endpoint: opts.endpoint, region: opts.region });
      try {
        const options: Partial<VerifyOptions> = {
          segments: opts.segments,
          pageSize: opts.pageSize,
          examples: opts.examples,
          recheckAfterMs: opts.recheckAfter,
          onPage: (counts, pass) => progress(migration, pass, counts.scanned),
        };
        const found = await verifyMigration(clients, tableName, migration, { ...options, repair: Boolean(opts.repair) });
        // A repair is judged by a fresh verify, not by its own counts.
        const after = opts.repair && !found.clean ? await verifyMigration(clients, tableName, migration, options) : undefined;
        endProgress();
        if (opts.json) printJson(after ? { ...found, recheck: after } : found);
        else process.stdout.write(`${describeVerify(found, after)}\n`);
        const final = after ?? found;
        // Kept with the migration (once added) so `ferry status` shows the latest result.
        const location = { doc: clients.doc, controlTable: opts.controlTable ?? defaultControlTableName(tableName), migrationId: migration.id };
        await recordVerification(location, verificationOf(final, new Date()));
        if (!final.clean) throw new VerifyFailedError(final);
      } finally {
        endProgress();
        clients.raw.destroy();
      }
    });
}

let progressShown = false;

function progress(migration: Migration, pass: "verify" | "repair", scanned: number): void {
  if (!process.stderr.isTTY) return;
  progressShown = true;
  process.stderr.write(`\r${pass === "repair" ? "repairing" : "verifying"} ${migration.id}: ${scanned} items scanned `);
}

function endProgress(): void {
  if (progressShown) process.stderr.write("\n");
  progressShown = false;
}

/** The report as aligned text: counts, repairs, the result, then the examples. */
export function describeVerify(report: VerifyReport, after?: VerifyReport): string {
  const seconds = report.elapsedMs / 1000;
  const rows: (string | number)[][] = [
    ["migration", report.migrationId],
    ["table", `${report.tableName} (${report.segments} segment(s), pages of ${report.pageSize})`],
    ["scanned", `${report.scanned} item(s): ${report.sources} source item(s), ${report.derived} record(s) of this migration, ${report.other} other`],
    ["expected records", `${report.expected} derived by the valid source items`],
  ];
  for (const kind of Object.keys(VERIFY_DEFECTS) as VerifyDefect[]) rows.push([label(kind), countOf(report, kind)]);
  if (report.unchecked > 0) rows.push(["unchecked", `${report.unchecked} record(s) of invalid source items`]);
  rows.push(["read units", report.consumedReadUnits]);
  rows.push(["time", `${seconds.toFixed(1)} s (${Math.round(report.scanned / (seconds || 1))} items/s)`]);
  if (report.repaired) {
    const r = report.repaired;
    rows.push(["repaired", `${r.put} put, ${r.deleted} deleted, ${r.skipped} left alone (changed meanwhile or a collision)`]);
    rows.push(["write units", report.consumedWriteUnits]);
  }
  rows.push(["result", report.clean ? "clean" : "NOT CLEAN"]);
  if (after) rows.push(["after repair", after.clean ? "clean" : `NOT CLEAN (${summary(after)})`]);
  const parts = [table(rows)];
  const examples = (after ?? report).examples;
  if (examples.length > 0) {
    parts.push(
      "",
      after ? "Examples (after repair):" : "Examples:",
      table([["kind", "key", "owner", "detail"], ...examples.map((e) => [e.kind, keyText(e.key), e.owner ? keyText(e.owner) : "", e.detail])]),
    );
  }
  return parts.join("\n");
}

function label(kind: VerifyDefect): string {
  return kind === "invalidSource" ? "invalid sources" : kind === "orphan" ? "orphans" : kind;
}

function summary(report: VerifyReport): string {
  return (Object.keys(VERIFY_DEFECTS) as VerifyDefect[])
    .filter((k) => countOf(report, k) > 0)
    .map((k) => `${label(k)} ${countOf(report, k)}`)
    .join(", ");
}
