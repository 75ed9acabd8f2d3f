/**
 * `ferry status [<migration>]`: every migration in the migrations folder with its step,
 * backfill progress bar and ETA, dual-write lag and last error; or one migration in detail
 * (per-segment progress, rates, execution, history). The data comes from core
 * (status/migration-status.ts); this file only prints it.
 */
import { UsageError, describeTable, loadEachMigration, misnamedMigrationFiles } from "@ferry/core";
import { TableNotFoundError } from "@ferry/core/design/sample";
import { formatCount, formatDuration } from "@ferry/core/design/format";
import { defaultMigrationsDir, loadMigration } from "@ferry/core/definition/load";
import { describeReleaseSummary } from "@ferry/core/release/summary";
import type { ShadowStats } from "@ferry/core/release/shadow";
import { describeKind, describeKindDetail } from "@ferry/core/kinds/describe";
import { type MigrationStatus, readMigrationStatus, readMigrationStatuses } from "@ferry/core/status/migration-status";
import { Command } from "commander";
import { withConnectionFlags, withStageFlag } from "../options.ts";
import { printJson, table } from "../output.ts";
import { type BackfillFlags, describeFailures, withBackfillFlags } from "./backfill-shared.ts";
import { openConnection } from "./open-migration.ts";

export function statusCommand(name = "status"): Command {
  const command = new Command(name)
    .description(
      "Show every migration (or one in detail): step, backfill progress and ETA, dual-write lag, verify result, traffic split, shadow agreement, last error",
    )
    .argument("[migration]", "migration number, name, id or file, e.g. 0001 (default: every migration in the folder)");
  withConnectionFlags(command);
  withBackfillFlags(command);
  withStageFlag(command);
  return command
    .addHelpText(
      "after",
      `
Reads only the control table (and, with --stage, DescribeExecution of the backfill's execution),
so it is cheap to run while a backfill runs elsewhere. --json prints the same data as JSON:
{ migrations: [...] } without a migration, one migration's object with it.

Example:
  $ npx ferry status --endpoint http://127.0.0.1:8000
  $ npx ferry status 0001 --endpoint http://127.0.0.1:8000 --json | jq .backfill.totals
  $ npx ferry status 0001 --stage dev`,
    )
    .action((ref: string | undefined, opts: BackfillFlags) => showStatus(ref, opts));
}

/** The action of `ferry status` (and of the deprecated `ferry backfill-status`). */
export async function showStatus(ref: string | undefined, opts: BackfillFlags): Promise<void> {
  const dir = opts.migrationsDir ?? defaultMigrationsDir();
  // The table: --table, --stage or FERRY_TABLE, else the migration's (or the one all the folder's migrations name).
  const one = ref ? await loadMigration(ref, dir) : undefined;
  const files = ref ? [] : await loadEachMigration(dir);
  const tables = new Set(files.flatMap((f) => ("migration" in f ? [f.migration.table] : [])));
  const connection = openConnection(opts, one ?? (tables.size === 1 ? { table: [...tables][0] as string } : undefined));
  const location = { clients: connection.clients, tableName: connection.tableName, controlTable: connection.controlTable };
  const where = { table: connection.tableName, controlTable: connection.controlTable, ...(connection.stage ? { stage: connection.stage.stage } : {}) };
  try {
    // A missing table would otherwise show every migration as "not added".
    if (!(await describeTable(connection.clients.raw, connection.tableName))) throw new TableNotFoundError(connection.tableName);
    if (one) {
      const status = await readMigrationStatus(location, one, connection.runtime);
      if (opts.json) return printJson({ ...where, ...status });
      process.stdout.write(`${describeMigrationStatus(status)}\n`);
      return;
    }
    // One bad file must not hide every other migration: it gets an error row, the command exits 2 after printing.
    const invalid = files.flatMap((f) => ("error" in f ? [{ id: f.id, error: f.error.message }] : []));
    const misnamed = misnamedMigrationFiles(dir);
    const statuses = await readMigrationStatuses(
      location,
      files.flatMap((f) => ("migration" in f ? [f.migration] : [])),
      connection.runtime,
    );
    if (opts.json) printJson({ ...where, migrations: statuses, ...(invalid.length ? { invalid } : {}), ...(misnamed.length ? { skipped: misnamed } : {}) });
    else process.stdout.write(`${describeStatusList(statuses, where, invalid)}\n`);
    for (const file of misnamed) {
      process.stderr.write(
        `Warning: skipped ${file} in ${dir}: its name does not match NNNN_kebab-name.ts (e.g. 0001_workflow-context-index.ts); rename it to use it.\n`,
      );
    }
    if (invalid.length) throw new InvalidMigrationFilesError(invalid.map((i) => i.id));
  } finally {
    connection.close();
  }
}

/** Some migration files could not be loaded (the others were shown). */
export class InvalidMigrationFilesError extends UsageError {
  constructor(readonly ids: string[]) {
    super(`${ids.length} migration file(s) cannot be loaded: ${ids.join(", ")} (see the error row). Fix them; \`ferry check <migration>\` shows the details.`);
  }
}

const BAR_WIDTH = 20;

/** `[#####-----] 50.0%` */
export function progressBar(ratio: number, width = BAR_WIDTH): string {
  const clamped = Math.max(0, Math.min(1, ratio));
  return `[${"#".repeat(Math.round(clamped * width)).padEnd(width, "-")}] ${(100 * clamped).toFixed(1)}%`;
}

const iso = (ms: number) => new Date(ms).toISOString();
const oneLine = (text: string, max = 80) => (text.length > max ? `${text.slice(0, max - 3)}...` : text).replace(/\s+/g, " ");

function backfillCell(s: MigrationStatus): string {
  const b = s.backfill;
  if (!b?.run) return "no backfill";
  const state = b.stale ? `${b.run.status} (nothing runs it)` : `${b.run.status}${b.run.requested ? ` (${b.run.requested} requested)` : ""}`;
  return `${progressBar(b.progress.ratio)} ${state}`;
}

function lagCell(s: MigrationStatus): string {
  const lag = s.dualWrite?.lag;
  if (!lag) return s.dualWrite ? "no heartbeat yet" : "-";
  return `${formatDuration(lag.lagMs / 1000)} (applied ${formatDuration(lag.sinceAppliedMs / 1000)} ago)`;
}

/** The latest verify: "clean" or its defect counts, with when. */
function verifyCell(s: MigrationStatus): string {
  const v = s.lifecycle?.verification;
  if (!v) return "not run";
  const defects = [
    v.missing ? `${formatCount(v.missing)} missing` : "",
    v.orphans ? `${formatCount(v.orphans)} orphan` : "",
    v.different ? `${formatCount(v.different)} different` : "",
    v.invalidSources ? `${formatCount(v.invalidSources)} invalid source` : "",
  ].filter(Boolean);
  const ago = formatDuration(Math.max(0, Date.now() - Date.parse(v.at)) / 1000);
  return `${v.clean ? "clean" : defects.join(", ") || "not clean"} (${ago} ago)`;
}

/** Raw agreement, then agreement after re-check (lagged disagreements resolved, persistent ones counted). */
function shadowCell(s: ShadowStats): string {
  const pct = (x?: number) => (x === undefined ? "-" : `${(100 * x).toFixed(1)}%`);
  const tail = [s.persistent ? `${formatCount(s.persistent)} persistent` : "", s.unsettled ? `${formatCount(s.unsettled)} unsettled` : ""].filter(Boolean);
  return `${pct(s.agreement)} raw, ${pct(s.agreementAfterRecheck)} re-checked of ${formatCount(s.compared)}${tail.length ? ` (${tail.join(", ")})` : ""}`;
}

/** The list view: one row per migration. */
export function describeStatusList(
  statuses: MigrationStatus[],
  where: { table: string; controlTable: string; stage?: string },
  invalid: { id: string; error: string }[] = [],
): string {
  if (statuses.length === 0 && invalid.length === 0) return "No migrations in the migrations folder (`ferry new` creates one).";
  const rows = [
    ["migration", "kind", "step", "backfill", "ETA", "dual-write lag", "verify", "traffic", "shadow", "last error"],
    ...statuses.map((s) => [
      s.migrationId,
      describeKind(s.kind),
      s.step ?? "not added",
      backfillCell(s),
      s.backfill?.etaSeconds !== undefined ? formatDuration(s.backfill.etaSeconds) : "-",
      lagCell(s),
      verifyCell(s),
      s.release ? s.release.split : "-",
      s.release?.shadow.compared ? shadowCell(s.release.shadow) : "-",
      s.lastError ? `${s.lastError.source}: ${oneLine(`${s.lastError.name}: ${s.lastError.message}`, 60)}` : "-",
    ]),
    ...invalid.map((i) => [i.id, "invalid file", "-", "-", "-", "-", "-", "-", "-", oneLine(i.error, 100)]),
  ];
  const header = `table ${where.table}, control table ${where.controlTable}${where.stage ? `, stage ${where.stage}` : ""}`;
  return [header, "", table(rows), "", "`ferry status <migration>` shows one in detail."].join("\n");
}

/** The detail view: a summary, the segments, failed items and the step history. */
export function describeMigrationStatus(s: MigrationStatus): string {
  const id = s.migrationId;
  const rows: (string | number)[][] = [
    ["migration", `${id} (step ${s.step ?? "not added"})`],
    ["kind", describeKindDetail(s.kind)],
  ];
  const b = s.backfill;
  const run = b?.run;
  if (!b || !run) {
    rows.push(["backfill", `none yet (\`ferry convert ${id}\` starts one)`]);
  } else {
    const { totals } = b;
    const lockText = b.lock
      ? `${b.lock.owner} since ${iso(b.lock.acquiredAt)}${b.lock.leaseUntil < Date.now() ? " (lease lapsed: crashed? `ferry resume` takes over)" : ""}`
      : "none";
    rows.push(
      ["backfill", `${run.status}${run.requested ? ` (${run.requested} requested)` : ""}, run ${run.runId}, ${run.executions} execution(s)`],
      ["started", `${iso(run.startedAt)}${run.finishedAt ? `, finished ${iso(run.finishedAt)}` : ""}`],
      ["settings", `${run.settings.segments} segment(s), pages of ${run.settings.pageSize}${run.settings.dryRun ? ", dry run" : ""}`],
      [
        "rate",
        `cap ${formatCount(run.settings.rate)} items written/s, effective ${formatCount(run.effectiveRate)}; ` +
          `average ${formatCount(b.writtenPerSecond)} written/s, ${formatCount(b.itemsPerSecond)} scanned/s`,
      ],
      ["progress", `${progressBar(b.progress.ratio)} ${formatCount(totals.scanned)} of ~${formatCount(b.progress.total)} item(s) scanned`],
      ["ETA", b.etaSeconds !== undefined ? formatDuration(b.etaSeconds) : "-"],
      [
        "converted",
        `${formatCount(totals.converted)} of ${formatCount(totals.sources)} source item(s), ${formatCount(totals.recordsWritten)} record(s) written`,
      ],
      ["repaired / failed", `${formatCount(totals.repaired ?? 0)} repaired after the read, ${formatCount(totals.failed)} failed`],
      ["consumed", `${formatCount(totals.consumedReadUnits)} RCU, ${formatCount(totals.consumedWriteUnits)} WCU`],
    );
    if (b.runtime === "stage" || run.runtime?.kind === "stage") {
      const e = b.execution;
      rows.push([
        "execution",
        e ? `${e.status} ${e.arn}${e.startedAt ? ` since ${iso(e.startedAt)}` : ""}` : `${run.runtime?.executionArn ?? "-"} (pass --stage to describe it)`,
      ]);
    } else {
      rows.push(["lock", lockText]);
    }
    if (b.stale) rows.push(["attention", `the run says running but nothing runs it: \`ferry resume ${id}\` continues it from the checkpoints`]);
  }
  rows.push(["dual-write lag", lagCell(s)]);
  rows.push(["verify", verifyCell(s)]);
  if (s.dualWrite?.counters) {
    const c = s.dualWrite.counters;
    rows.push([
      "dual-write",
      `${formatCount(c.applied)} applied, ${formatCount(c.unchanged)} unchanged, ${formatCount(s.dualWrite.failedRecords)} failed record(s)`,
    ]);
  }
  if (s.lastError) rows.push(["last error", `${s.lastError.source}: ${s.lastError.name}: ${oneLine(s.lastError.message, 160)} (${iso(s.lastError.at)})`]);
  if (s.lastDryRun) {
    rows.push([
      "last dry run",
      `${s.lastDryRun.status}, ${formatCount(s.lastDryRun.totals.converted)} item(s) would convert, started ${iso(s.lastDryRun.startedAt)}`,
    ]);
  }
  const parts = [table(rows)];
  if (b && run) {
    parts.push(
      "",
      table([
        ["segment", "pages", "scanned", "converted", "repaired", "failed", "state", "updated"],
        ...Array.from({ length: run.settings.segments }, (_, segment) => {
          const c = b.checkpoints.find((p) => p.segment === segment);
          if (!c) return [segment, 0, 0, 0, 0, 0, "not started", "-"];
          return [
            segment,
            c.pages,
            c.counters.scanned,
            c.counters.converted,
            c.counters.repaired ?? 0,
            c.counters.failed,
            c.done ? "done" : "in progress",
            iso(c.updatedAt),
          ];
        }),
      ]),
    );
    if (b.failedItems.total > 0) parts.push("", describeFailures(b.failedItems));
  }
  if (s.release) parts.push("", "move:", ...describeReleaseSummary(s.release).map((line) => `  ${line}`));
  if (s.history.length > 0) {
    parts.push(
      "",
      "history:",
      ...s.history.map(
        (h) =>
          `  ${h.at} ${h.step}${h.event && h.event !== "start" ? ` ${h.event}` : ""} by ${h.actor}${h.forced?.length ? ` (forced: ${h.forced.join(", ")}; ${h.reason ?? ""})` : ""}`,
      ),
    );
  }
  if (s.lifecycle && s.lifecycle.status !== "active")
    parts.push("", `lifecycle: ${s.lifecycle.status}${s.lifecycle.removal?.backup ? `; backup ${JSON.stringify(s.lifecycle.removal.backup)}` : ""}`);
  return parts.join("\n");
}
