/**
 * `ferry add`: the first step of a migration. It checks that the table's stream carries
 * both images (the dual-write derives from the new image and deletes what the old one
 * owned), then records the step and the stream position where dual-write began in the
 * migration's state record in the control table.
 *
 * The state record (control/migration-state.ts) gets { step: "add", history: [..., { step,
 * at, actor }], dualWrite: {...} }. Running add again is a no-op: the history gets one "add"
 * entry, the first position stays.
 */
import type { TableDescription } from "@aws-sdk/client-dynamodb";
import type { DynamoClients } from "../../aws/dynamodb.ts";
import { type MigrationState, readMigrationState, updateState } from "../../control/migration-state.ts";
import type { Migration } from "../../definition/define-migration.ts";
import { TableNotFoundError } from "../../dynamo/missing-table.ts";
import { RefusalError } from "../../errors.ts";
import { type StreamsClient, createStreamsClient, describeStreamShards } from "../../streams/shards.ts";
import { defaultControlTableName, ensureControlTable } from "../../control/control-table.ts";
import { describeTable } from "../../dynamo/table.ts";
import { unlessMissingTable } from "../../dynamo/missing-table.ts";
import { type SweepResult, runSweep } from "../../cleanup/sweep.ts";
import { kindOf } from "../../kinds/registry.ts";
import { DualWriteStillRunningError, MigrationRemovedError, PlanInvalidError } from "../guards.ts";
import { type AddRollback, type Phase, type RollbackGuard, controlLocation, emit, patchStateOf } from "../phase.ts";
import { readHeartbeat, stoppedSinceApplied } from "../../dualwrite/heartbeat.ts";
import { checkPlanOnTable, planExamples, planProblems } from "./design.ts";

/** The stream view type dual-write needs. */
export const REQUIRED_STREAM_VIEW_TYPE = "NEW_AND_OLD_IMAGES";

/** The table has no stream (or it is disabled). */
export class StreamNotEnabledError extends RefusalError {
  readonly guard = "stream-enabled";
  constructor(readonly tableName: string) {
    super(
      `Table ${tableName} has no stream enabled; dual-write reads the stream. Turn it on with:\n` +
        `  aws dynamodb update-table --table-name ${tableName} --stream-specification StreamEnabled=true,StreamViewType=${REQUIRED_STREAM_VIEW_TYPE}\n` +
        "(add --endpoint-url <url> for DynamoDB Local), then run the command again.",
    );
  }
}

/** The stream exists with a view type other than NEW_AND_OLD_IMAGES. */
export class WrongStreamViewTypeError extends RefusalError {
  readonly guard = "stream-view-type";
  constructor(
    readonly tableName: string,
    readonly viewType: string,
  ) {
    super(
      `Table ${tableName} streams ${viewType}; dual-write needs ${REQUIRED_STREAM_VIEW_TYPE} (the new image to derive from, the old one to delete what it owned). ` +
        "A stream's view type cannot be changed in place: disable the stream, then enable it again with the right type (the new stream gets a new ARN):\n" +
        `  aws dynamodb update-table --table-name ${tableName} --stream-specification StreamEnabled=false\n` +
        `  aws dynamodb update-table --table-name ${tableName} --stream-specification StreamEnabled=true,StreamViewType=${REQUIRED_STREAM_VIEW_TYPE}`,
    );
  }
}

/** The table's stream ARN, or the error saying how to enable a NEW_AND_OLD_IMAGES stream. */
export function requireDualWriteStream(table: TableDescription | undefined, tableName: string): { streamArn: string } {
  if (!table) throw new TableNotFoundError(tableName);
  const spec = table.StreamSpecification;
  if (!spec?.StreamEnabled || !table.LatestStreamArn) throw new StreamNotEnabledError(tableName);
  if (spec.StreamViewType !== REQUIRED_STREAM_VIEW_TYPE) throw new WrongStreamViewTypeError(tableName, spec.StreamViewType ?? "no images");
  return { streamArn: table.LatestStreamArn };
}

export interface AddOptions {
  /** Physical table name (`--table`). */
  tableName: string;
  /** Default `<table>.ferry`. */
  controlTable?: string;
  /** Who ran the step (`--actor`, default $USER). */
  actor: string;
  /** Default: a streams client on the same connection as `clients`. */
  streamsClient?: StreamsClient;
  now?: () => Date;
}

export interface AddResult {
  state: MigrationState;
  /** False when the migration had already been added (nothing was written). */
  created: boolean;
  /** The table's current stream differs from the one recorded (the stream was re-enabled since). */
  streamChanged: boolean;
  controlTable: string;
}

/** Checks the stream and records the add step; a second run changes nothing. */
export async function startAdd(clients: DynamoClients, migration: Migration, options: AddOptions): Promise<AddResult> {
  const { streamArn } = requireDualWriteStream(await describeTable(clients.raw, options.tableName), options.tableName);
  const controlTable = options.controlTable ?? defaultControlTableName(options.tableName);
  await ensureControlTable(clients.raw, controlTable);
  const location = { doc: clients.doc, controlTable, migrationId: migration.id };

  const existing = await readMigrationState(location);
  if (existing?.history.some((entry) => entry.step === "add")) {
    return { state: existing, created: false, streamChanged: existing.dualWrite?.streamArn !== streamArn, controlTable };
  }

  const owned = options.streamsClient ? undefined : createStreamsClient(clients);
  const streams = options.streamsClient ?? owned;
  try {
    const description = await describeStreamShards(streams as StreamsClient, streamArn);
    // Two concurrent adds: one writes, the other finds the add it wrote and changes nothing.
    let added: MigrationState | undefined;
    const state = await updateState(
      location,
      (current, at) => {
        added = current?.history.some((entry) => entry.step === "add") ? current : undefined;
        if (added) return undefined;
        return {
          // Keep what earlier steps (design) recorded.
          ...current,
          migrationId: migration.id,
          step: "add",
          history: [...(current?.history ?? []), { step: "add", at, actor: options.actor }],
          dualWrite: {
            tableName: options.tableName,
            streamArn,
            streamViewType: description.viewType ?? REQUIRED_STREAM_VIEW_TYPE,
            shards: description.shards
              .filter((s) => !s.endingSequenceNumber)
              .map((s) => ({
                shardId: s.shardId,
                ...(s.parentShardId ? { parentShardId: s.parentShardId } : {}),
                ...(s.startingSequenceNumber ? { startingSequenceNumber: s.startingSequenceNumber } : {}),
              })),
            at,
          },
          updatedAt: at,
        };
      },
      options.now,
    );
    if (added) return { state: added, created: false, streamChanged: added.dualWrite?.streamArn !== streamArn, controlTable };
    return { state: state as MigrationState, created: true, streamChanged: false, controlTable };
  } finally {
    owned?.destroy();
  }
}

// ---- The add step as a lifecycle phase (lifecycle/phase.ts) ----

/** Options of the add phase (the table and control table come from the lifecycle context). */
export interface AddPhaseOptions {
  streamsClient?: StreamsClient;
  /** Real source items of the table the valid-plan guard derives (default DEFAULT_SAMPLE_SIZE; 0: generated items only). */
  sample?: number;
}

/**
 * add: guard "valid plan" (`ferry check --table` passes: generated items and sampled real
 * items, whose keys its records must not overwrite); start records where dual-write begins
 * (startAdd); rollback deletes every record the dual-write and the backfill derived, and
 * is guarded by the dual-write being stopped (else the records come back).
 */
export const addPhase: Phase<AddPhaseOptions, AddResult> & RollbackGuard = {
  step: "add",
  async validate(ctx, state, options) {
    if (state?.status === "removing" || state?.status === "removed") return [new MigrationRemovedError(ctx.migration.id, "add")];
    // What the kind needs first (attributes: the index it feeds; table: the target table).
    const kindProblems = await kindOf(ctx.migration).addProblems(ctx);
    if (kindProblems.length > 0) return kindProblems;
    const report = await checkPlanOnTable(ctx.clients, ctx.tableName, ctx.migration, options.sample);
    return report.ok ? [] : [new PlanInvalidError(ctx.migration.id, planProblems(report), planExamples(report), ctx.tableName)];
  },
  async start(ctx, options, record) {
    // The first add creates the control table: before it, no state to read.
    const before = await unlessMissingTable(readMigrationState(controlLocation(ctx)), undefined);
    const result = await startAdd(ctx.clients, ctx.migration, {
      tableName: ctx.tableName,
      controlTable: ctx.controlTable,
      actor: ctx.actor,
      now: () => new Date(ctx.guards.now()),
      ...(options.streamsClient ? { streamsClient: options.streamsClient } : {}),
    });
    // Added again after a rollback: startAdd keeps the first add; the lifecycle starts over.
    if (!result.created && before?.status === "rolled-back") return { ...result, state: await record({ status: "active" }) };
    if (result.created) emit(ctx, "add", "start");
    return result;
  },
  isComplete: (_ctx, result) => result.created || result.state.status === "active",
  async validateRollback(ctx) {
    // No control table: no dual-write ever ran. Any other failed read stops the rollback (it must not pass for a stopped dual-write).
    const beat = await unlessMissingTable(readHeartbeat(ctx.clients.doc, ctx.controlTable, ctx.migration.id), undefined);
    // Stopped cleanly after its last change (Ctrl-C of `ferry dual-write`): not running.
    if (!beat || stoppedSinceApplied(beat)) return [];
    const age = ctx.guards.now() - beat.appliedAt;
    return age <= ctx.guards.maxHeartbeatAgeMs ? [new DualWriteStillRunningError(ctx.migration.id, age)] : [];
  },
  async rollback(ctx, options): Promise<AddRollback> {
    // The kind's sweeps in order (records: delete the stamped records; attributes: remove what ferry set).
    const tasks = kindOf(ctx.migration).rollbackTasks({
      clients: ctx.clients,
      tableName: ctx.tableName,
      controlTable: ctx.controlTable,
      migration: ctx.migration,
    });
    const settings = {
      ...(options.segments !== undefined ? { segments: options.segments } : {}),
      ...(options.pageSize !== undefined ? { pageSize: options.pageSize } : {}),
      ...(options.rate !== undefined ? { rate: options.rate } : {}),
    };
    let sweep: SweepResult | undefined;
    const totals = { scanned: 0, processed: 0 };
    let resumed = false;
    for (const task of tasks) {
      sweep = await runSweep(task, settings, { ...(options.signal ? { signal: options.signal } : {}) });
      totals.scanned += sweep.totals.scanned;
      totals.processed += sweep.totals.processed;
      resumed ||= sweep.resumed;
      if (sweep.run.status !== "completed") break;
    }
    if (!sweep) throw new Error(`the ${ctx.migration.kind} kind has no rollback sweep`);
    sweep = { ...sweep, totals: { ...sweep.totals, ...totals }, resumed };
    const stopped = sweep.run.status !== "completed";
    await patchStateOf(ctx, {
      rollback: {
        runId: sweep.run.runId,
        startedAt: new Date(sweep.run.startedAt).toISOString(),
        ...(sweep.run.finishedAt ? { finishedAt: new Date(sweep.run.finishedAt).toISOString() } : {}),
        deleted: sweep.totals.processed,
      },
    });
    return { deleted: sweep.totals.processed, scanned: sweep.totals.scanned, resumed: sweep.resumed, stopped, runId: sweep.run.runId };
  },
};
