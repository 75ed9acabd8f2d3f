/** `ferry plan <migration>`: estimates what converting the table will take (items, records, capacity, time, dollars). */
import { describeKindDetail } from "@ferry/core/kinds/describe";
import { createDynamoClients, defaultMigrationsDir, loadMigration } from "@ferry/core";
import { formatBytes, formatCount, formatDuration, formatUsd } from "@ferry/core/design/format";
import { BACKFILL_LIMITS, describeLimit } from "@ferry/core/backfill/settings";
import { DEFAULT_PLAN_OPTIONS, type Plan, planMigration } from "@ferry/core/design/plan";
import { Command } from "commander";
import { type ConnectionFlags, parseInteger, parseNumber, withConnectionFlags, withStageFlag, tableFor } from "../options.ts";
import { printJson, table } from "../output.ts";

interface PlanFlags extends ConnectionFlags {
  sample: number;
  countMaxItems: number;
  changesPerSecond: number;
  rate?: number;
  migrationsDir?: string;
}

export function planCommand(): Command {
  const command = new Command("plan")
    .description("Estimate a conversion from a sample of the table: source items, records, capacity units, duration, on-demand cost")
    .argument("<migration>", "migration number, name, id or file, e.g. 0001");
  withConnectionFlags(command);
  withStageFlag(command, []);
  return command
    .option("--sample <n>", "source items to sample and derive", parseInteger(1, 1_000_000), DEFAULT_PLAN_OPTIONS.sample)
    .option(
      "--rate <items/s>",
      `backfill rate cap in source items/s, ${describeLimit(BACKFILL_LIMITS.rate)} (default: the migration's options.rate)`,
      parseNumber(BACKFILL_LIMITS.rate.min, BACKFILL_LIMITS.rate.max),
    )
    .option(
      "--count-max-items <n>",
      "count source items exactly (key-only Scan) in tables up to this many items, else scale the sample",
      parseInteger(0, Number.MAX_SAFE_INTEGER),
      DEFAULT_PLAN_OPTIONS.countMaxItems,
    )
    .option(
      "--changes-per-second <n>",
      "application writes to source items per second during the backfill (the items changed while their page is in flight are repaired by a transaction)",
      parseNumber(0, Number.MAX_SAFE_INTEGER),
      DEFAULT_PLAN_OPTIONS.changesPerSecond,
    )
    .option("--migrations-dir <dir>", "folder of migration files (default: FERRY_MIGRATIONS_DIR or ./migrations)")
    .addHelpText(
      "after",
      `
Example: plan 0002 on the local table at 500 items/s
  $ npx ferry plan 0002 --endpoint http://127.0.0.1:8000 --rate 500`,
    )
    .action(async (ref: string, opts: PlanFlags) => {
      const migration = await loadMigration(ref, opts.migrationsDir ?? defaultMigrationsDir());
      const clients = createDynamoClients({ endpoint: opts.endpoint, region: opts.region });
      let plan: Plan;
      try {
        plan = await planMigration(clients, tableFor(opts, migration), migration, {
          sample: opts.sample,
          countMaxItems: opts.countMaxItems,
          changesPerSecond: opts.changesPerSecond,
          ...(opts.rate ? { rate: opts.rate } : {}),
        });
      } finally {
        clients.raw.destroy();
      }
      if (opts.json) return printJson(plan);
      process.stdout.write(`${describePlan(plan)}\n`);
    });
}

/** The plan as an aligned table, prices and their source stated. */
export function describePlan(plan: Plan): string {
  const p = plan.cost.prices;
  const approx = plan.sourceItems.exact ? "" : "~";
  const rows: (string | number)[][] = [
    ["migration", plan.migrationId],
    ["kind", describeKindDetail(plan.kind)],
    ["table", `${plan.tableName}: ${formatCount(plan.table.items)} items, ${formatBytes(plan.table.bytes)} (${plan.table.method})`],
    ["sample", `${formatCount(plan.sample.scanned)} scanned, ${formatCount(plan.sample.sources)} source items, ${plan.sample.failed} failed to derive`],
    ["source items", `${approx}${formatCount(plan.sourceItems.count)}${plan.sourceItems.exact ? " (exact)" : " (estimated)"}`],
    ["records per item", `mean ${plan.recordsPerItem.mean.toFixed(2)}, max ${plan.recordsPerItem.max}`],
    ["record size", `mean ${formatBytes(plan.recordBytes.mean)}, max ${formatBytes(plan.recordBytes.max)}`],
    ["records to write", `${approx}${formatCount(plan.records.total)} (${formatBytes(plan.records.bytes)})`],
    [
      "write units",
      `${approx}${formatCount(plan.writeUnits.total)} (plain writes ${formatCount(plan.writeUnits.plain)}: per item mean ${plan.writeUnits.mean.toFixed(1)}, max ${plan.writeUnits.max}, 1 per KB of each record; repairs ${formatCount(plan.writeUnits.repairs)}: ${plan.repairs.expected} expected at ${plan.repairs.changesPerSecond} changes/s, ${plan.repairs.writeUnitsPerRepair} each as a transaction)`,
    ],
    [
      "read units",
      `${approx}${formatCount(plan.readUnits.total)} (eventually consistent Scan ${formatCount(Math.ceil(plan.readUnits.scan))}, ${plan.readUnits.segments} segments, pages of ${plan.readUnits.pageSize}; validation reads ${formatCount(plan.readUnits.validation)}, strongly consistent)`,
    ],
    ["duration", `${formatDuration(plan.durationSeconds)} at ${formatCount(plan.rate)} source items/s`],
    ["on-demand cost", `${formatUsd(plan.cost.totalUsd)} (writes ${formatUsd(plan.cost.writeUsd)}, reads ${formatUsd(plan.cost.readUsd)})`],
    ["prices", `$${p.usdPerMillionWriteUnits} per million write units, $${p.usdPerMillionReadUnits} per million read units`],
    ["", `(${p.region}, on-demand, as of ${p.asOf}: ${p.source})`],
  ];
  return [table(rows), ...plan.notes.map((n) => `note: ${n}`)].join("\n");
}
