/** `ferry backfill-status <migration>`: the backfill's run, per-segment progress, rates, ETA, dual-write lag and last error. */
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { type ConversionStatus, type ConvertContext, conversionStatus } from "@ferry/core/backfill/control";
import { formatCount, formatDuration } from "@ferry/core/design/format";
import { readMigrationState } from "@ferry/core/phases/add";
import { ControlSk, migrationPk } from "@ferry/core/state/control-table";
import { Command } from "commander";
import { withConnectionFlags } from "../options.ts";
import { printJson, table } from "../output.ts";
import { type BackfillFlags, type ItemFailure, describeFailures, openContext, readFailures, withBackfillFlags } from "./backfill-shared.ts";

/** The dual-write consumer's heartbeat, when it writes one. */
export const DUAL_WRITE_HEARTBEAT = "dual-write";

export interface DualWriteLag {
  lagMs: number;
  /** When the heartbeat was written (ms since the epoch), if it says. */
  at?: number;
}

/** Reads the dual-write heartbeat's lag; undefined when there is none (dual-write not running here). */
export async function readDualWriteLag(ctx: ConvertContext): Promise<DualWriteLag | undefined> {
  const out = await ctx.clients.doc.send(
    new GetCommand({ TableName: ctx.controlTable, Key: { PK: migrationPk(ctx.migration.id), SK: ControlSk.heartbeat(DUAL_WRITE_HEARTBEAT) } }),
  );
  const item = out.Item;
  const lagMs = item?.lagMs ?? item?.dualWriteLagMs;
  if (typeof lagMs !== "number") return undefined;
  const at = [item?.at, item?.updatedAt, item?.heartbeatAt].find((v): v is number => typeof v === "number");
  return { lagMs, ...(at !== undefined ? { at } : {}) };
}

export function backfillStatusCommand(): Command {
  const command = new Command("backfill-status")
    .description("Show the backfill of a migration: status, per-segment progress, rate, ETA, dual-write lag, last error")
    .argument("<migration>", "migration number, name, id or file, e.g. 0001");
  withConnectionFlags(command);
  withBackfillFlags(command);
  return command
    .addHelpText(
      "after",
      `
Reads only the control table, so it is cheap to run while a backfill runs elsewhere.

Example:
  $ npx ferry backfill-status 0001 --endpoint http://127.0.0.1:8000
  $ npx ferry backfill-status 0001 --endpoint http://127.0.0.1:8000 --json | jq .totals`,
    )
    .action(async (ref: string, opts: BackfillFlags) => {
      const opened = await openContext(ref, opts);
      const { ctx } = opened;
      try {
        const location = { doc: ctx.clients.doc, controlTable: ctx.controlTable, migrationId: ctx.migration.id };
        const missing = (err: unknown) => {
          // No control table yet: nothing has been added or converted with it.
          if (err instanceof Error && err.name === "ResourceNotFoundException") return undefined;
          throw err;
        };
        const status = await conversionStatus(ctx).catch(missing);
        const state = await readMigrationState(location).catch(missing);
        const lag = status ? await readDualWriteLag(ctx) : undefined;
        const failures = status?.run ? await readFailures(ctx, status.run) : { items: [], total: 0 };
        if (opts.json) {
          return printJson({
            migrationId: ctx.migration.id,
            step: state?.step ?? null,
            ...(status ?? { checkpoints: [] }),
            run: status?.run ?? null,
            dualWriteLag: lag ?? null,
            failedItems: failures,
          });
        }
        process.stdout.write(`${describeStatus(ctx, status, state?.step, lag, failures)}\n`);
      } finally {
        opened.close();
      }
    });
}

/** The status as text: a summary table, then one row per segment. */
export function describeStatus(
  ctx: ConvertContext,
  status: ConversionStatus | undefined,
  step: string | undefined,
  lag: DualWriteLag | undefined,
  failures: { items: ItemFailure[]; total: number },
): string {
  const id = ctx.migration.id;
  const run = status?.run;
  if (!status || !run) return `${id}: step ${step ?? "not added"}; no backfill yet (\`ferry convert ${id}\` starts one).`;
  const { totals } = status;
  const total = Math.max(run.estimatedItems, totals.scanned);
  const percent = total > 0 ? ((100 * totals.scanned) / total).toFixed(1) : "100.0";
  const lockText = status.lock
    ? `${status.lock.owner} since ${new Date(status.lock.acquiredAt).toISOString()}${status.lock.leaseUntil < Date.now() ? " (lease lapsed: crashed? `ferry resume` takes over)" : ""}`
    : "none";
  const rows: (string | number)[][] = [
    ["migration", `${id} (step ${step ?? "not added"})`],
    ["backfill", `${run.status}${run.requested ? ` (${run.requested} requested)` : ""}, run ${run.runId}, ${run.executions} execution(s)`],
    ["started", `${new Date(run.startedAt).toISOString()}${run.finishedAt ? `, finished ${new Date(run.finishedAt).toISOString()}` : ""}`],
    ["settings", `${run.settings.segments} segment(s), pages of ${run.settings.pageSize}${run.settings.dryRun ? ", dry run" : ""}`],
    ["rate", `cap ${formatCount(run.settings.rate)} items/s, effective ${formatCount(run.effectiveRate)}, average ${formatCount(status.itemsPerSecond)}`],
    ["progress", `${formatCount(totals.scanned)} of ~${formatCount(total)} item(s) scanned (${percent}%)`],
    ["ETA", status.etaSeconds !== undefined ? formatDuration(status.etaSeconds) : "-"],
    ["converted", `${formatCount(totals.converted)} of ${formatCount(totals.sources)} source item(s), ${formatCount(totals.recordsWritten)} record(s) written`],
    ["deferred / failed", `${formatCount(totals.deferred)} deferred to the stream, ${formatCount(totals.failed)} failed`],
    ["consumed", `${formatCount(totals.consumedReadUnits)} RCU, ${formatCount(totals.consumedWriteUnits)} WCU`],
    ["lock", lockText],
    ["dual-write lag", lag ? `${formatDuration(lag.lagMs / 1000)}${lag.at ? ` (heartbeat ${new Date(lag.at).toISOString()})` : ""}` : "-"],
  ];
  if (run.lastError) rows.push(["last error", `${run.lastError.name}: ${run.lastError.message} (${new Date(run.lastError.at).toISOString()})`]);
  const segments = [
    ["segment", "pages", "scanned", "converted", "deferred", "failed", "state", "updated"],
    ...Array.from({ length: run.settings.segments }, (_, segment) => {
      const c = status.checkpoints.find((p) => p.segment === segment);
      if (!c) return [segment, 0, 0, 0, 0, 0, "not started", "-"];
      return [
        segment,
        c.pages,
        c.counters.scanned,
        c.counters.converted,
        c.counters.deferred,
        c.counters.failed,
        c.done ? "done" : "in progress",
        new Date(c.updatedAt).toISOString(),
      ];
    }),
  ];
  const parts = [table(rows), "", table(segments)];
  if (failures.total > 0) parts.push("", describeFailures(failures));
  return parts.join("\n");
}
