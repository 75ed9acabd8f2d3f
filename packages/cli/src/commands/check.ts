/** `ferry check <migration>`: runs derive on generated and sampled items and reports each problem with its keys. */
import { describeKindDetail } from "@ferry/core/kinds/describe";
import { type Migration, createDynamoClients, defaultMigrationsDir, keyText, loadMigration } from "@ferry/core";
import { CHECK_CATEGORIES, type CheckCategory, CheckFailedError, type CheckReport, DEFAULT_CHECK_EXAMPLES, checkMigration } from "@ferry/core/design/check";
import { formatBytes, formatCount } from "@ferry/core/design/format";
import { DEFAULT_SAMPLE_SIZE, type TableSample, sampleTable } from "@ferry/core/design/sample";
import { Command } from "commander";
import { migrationOnTable, withTableKeys } from "@ferry/core/definition/table-keys";
import { type ConnectionFlags, parseInteger, tableFor, tableNamed, withConnectionFlags, withStageFlag } from "../options.ts";
import { printJson, table } from "../output.ts";

interface CheckFlags extends ConnectionFlags {
  sample: number;
  generated: boolean;
  examples: number;
  migrationsDir?: string;
}

export function checkCommand(): Command {
  const command = new Command("check")
    .description("Run a migration's derive on generated and sampled items; report every problem with the offending keys")
    .argument("<migration>", "migration number, name, id or file, e.g. 0001");
  withConnectionFlags(command);
  withStageFlag(command, []);
  return command
    .option("--sample <n>", "source items to sample from the table (0: generated items only)", parseInteger(0, 1_000_000), DEFAULT_SAMPLE_SIZE)
    .option("--no-generated", "skip the migration's generated check items (its checkItems)")
    .option("--examples <n>", "examples shown per problem", parseInteger(1, 1_000), DEFAULT_CHECK_EXAMPLES)
    .option("--migrations-dir <dir>", "folder of migration files (default: FERRY_MIGRATIONS_DIR or ./migrations)")
    .addHelpText(
      "after",
      `
Exit codes: 0 no problems, 1 problems found, 2 bad migration file or flags.

Example: check 0001 on generated items and 5,000 items of the local table
  $ npx ferry check 0001 --endpoint http://127.0.0.1:8000 --sample 5000`,
    )
    .action(async (ref: string, opts: CheckFlags) => {
      const loaded = await loadMigration(ref, opts.migrationsDir ?? defaultMigrationsDir());
      const sample = opts.sample > 0 ? await sampleFor(loaded, opts) : undefined;
      // The table's keys when one is at hand (sampled, or named with --sample 0); else the file's `keys`, or an error saying to declare them.
      const migration = sample
        ? withTableKeys(loaded, sample.keys, sample.tableName)
        : !loaded.keys && tableNamed(opts)
          ? await keysFromTable(loaded, opts)
          : loaded;
      const report = checkMigration(migration, {
        generated: opts.generated ? (migration.checkItems?.() ?? []) : [],
        sampleItems: sample?.sources ?? [],
        ...(sample ? { otherKeys: sample.otherKeys } : {}),
        ...(sample?.target?.otherKeys ? { targetKeys: sample.target.otherKeys, targetTable: sample.target.tableName } : {}),
        examples: opts.examples,
      });
      const target = sample?.target && {
        table: sample.target.tableName,
        exists: !!sample.target.otherKeys,
        scanned: sample.target.scanned,
        complete: sample.target.complete,
      };
      const scanned = sample ? { table: sample.tableName, scanned: sample.scanned, complete: sample.complete, ...(target ? { target } : {}) } : undefined;
      if (opts.json) printJson({ ...report, ...(scanned ? { sample: scanned } : {}) });
      else process.stdout.write(`${describeCheck(report, sample)}\n`);
      if (!report.ok) throw new CheckFailedError(report);
    });
}

async function sampleFor(migration: Migration, opts: CheckFlags): Promise<TableSample> {
  const clients = createDynamoClients({ endpoint: opts.endpoint, region: opts.region });
  try {
    return await sampleTable(clients, tableFor(opts, migration), migration, { size: opts.sample, target: true });
  } finally {
    clients.raw.destroy();
  }
}

async function keysFromTable(migration: Migration, opts: CheckFlags): Promise<Migration> {
  const clients = createDynamoClients({ endpoint: opts.endpoint, region: opts.region });
  try {
    return await migrationOnTable(clients.raw, migration, tableFor(opts, migration));
  } finally {
    clients.raw.destroy();
  }
}

/** What check read of a copy's target. */
function describeTarget(target: NonNullable<TableSample["target"]>): string {
  if (!target.otherKeys) return `${target.tableName} does not exist yet: records not compared with it (\`ferry add\` needs it)`;
  return `${formatCount(target.scanned)} scanned in ${target.tableName}${target.complete ? " (whole table)" : ""}, ${formatCount(target.otherKeys.size)} not this migration's: records compared with them`;
}

/** The report as aligned text: what was checked, record statistics, each category, examples. */
export function describeCheck(report: CheckReport, sample?: TableSample): string {
  const r = report.records;
  const sampled = sample
    ? `${formatCount(report.checked.sample)} sampled from ${sample.tableName} (${formatCount(sample.scanned)} items scanned${sample.complete ? ", whole table" : ""})`
    : "no table sample";
  const head = table([
    ["migration", report.migrationId],
    ["kind", describeKindDetail(report.kind)],
    ["source items", `${formatCount(report.checked.generated)} generated, ${sampled}`],
    ...(sample?.target ? [["target items", describeTarget(sample.target)]] : []),
    ["records per item", `mean ${r.perItemMean.toFixed(2)}, max ${r.perItemMax} (${formatCount(r.itemsWithoutRecords)} item(s) derive none)`],
    ["record size", `mean ${formatBytes(r.bytesMean)}, max ${formatBytes(r.bytesMax)}`],
  ]);
  const categories = Object.keys(CHECK_CATEGORIES) as CheckCategory[];
  const counts = table([["problem", "items"], ...categories.map((c) => [CHECK_CATEGORIES[c], report.problems[c].count])]);
  const examples = categories
    .filter((c) => report.problems[c].examples.length > 0)
    .map((c) => {
      const rows = report.problems[c].examples.map((e) => [`  ${e.origin}`, keyText(e.key), e.message]);
      return `${CHECK_CATEGORIES[c]} (first ${rows.length} of ${report.problems[c].count}):\n${table(rows)}`;
    });
  const verdict = report.ok ? "OK: no problems found." : `FAILED: ${report.problemCount} problem(s)${report.stopped ? ` (${report.stopped})` : ""}.`;
  return [head, counts, ...examples, verdict].join("\n\n");
}
