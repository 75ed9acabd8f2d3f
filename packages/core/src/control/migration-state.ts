/**
 * The migration's state record in the control table (PK `migration#<id>`, SK `state`): the
 * step it is in, its history (who took which step when, overridden guards, reasons), where
 * dual-write began, and the lifecycle's evidence (verify result, rollback and remove counts).
 * This module is its only reader and writer: every change goes through `updateState`, a
 * read-modify-write guarded by `updatedAt`, so two commands on the same migration never lose
 * each other's history entries; different migrations have different partition keys.
 */
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { FerryError } from "../errors.ts";
import { type ControlLocation, ControlSk, migrationPk } from "./keys.ts";
import { compareAndSwap, unchangedSince } from "./cas.ts";
import { stripUndefined } from "../util/defined.ts";

/** One step taken, by whom and when (the lifecycle orchestrator adds event, reason, forced). */
export interface StepEntry {
  step: string;
  /** ISO time. */
  at: string;
  actor: string;
  /** start (default), complete, or rollback. */
  event?: "start" | "complete" | "rollback";
  /** Why (required with --force). */
  reason?: string;
  /** Guards overridden with --force. */
  forced?: string[];
}

/** Where dual-write began: the stream and its open shards at the time of `add`. */
export interface DualWriteStart {
  tableName: string;
  streamArn: string;
  streamViewType: string;
  shards: { shardId: string; parentShardId?: string; startingSequenceNumber?: string }[];
  /** ISO time. */
  at: string;
}

/** Where a migration stands as a whole: absent means active (in a step). */
export type LifecycleStatus = "active" | "rolling-back" | "rolled-back" | "removing" | "removed";

/** The migration's state control record. Fields after `updatedAt` are written by the lifecycle orchestrator. */
export interface MigrationState {
  migrationId: string;
  /** The latest step taken. */
  step: string;
  history: StepEntry[];
  dualWrite?: DualWriteStart;
  updatedAt: string;
  /** Absent: active. */
  status?: LifecycleStatus;
  /** ISO time each step completed (step name to time). */
  completed?: Record<string, string>;
  /** The last verify run by the move guard. */
  verification?: { at: string; clean: boolean; missing: number; orphans: number; different: number; invalidSources: number };
  /** The last rollback: its sweep's run id and counts. */
  rollback?: { runId: string; startedAt: string; finishedAt?: string; deleted: number };
  /** The remove step: backup taken before the cleanup, and the cleanup's counts. */
  removal?: {
    backup?: { kind: "file"; path: string; at: string } | { kind: "aws"; arn: string; name: string; at: string } | { kind: "none"; at: string };
    cleanup?: { runId: string; status: string; removed: number; skipped: number; finishedAt?: string };
  };
  /** The last `ferry restore` of this migration's backup (what the unretire guard accepts as the old data being back). */
  restored?: { at: string; file: string; restored: number; present: number; missing: number; recreated: number };
  /** The last `ferry unretire`: v1 served again after a remove, and the removal it undid. */
  unretired?: { at: string; actor: string; reason: string; forced?: string[]; previousRemoval?: MigrationState["removal"] };
}

/**
 * The stored record's schema: the fields every reader relies on are checked, the rest is kept
 * as written (loose), so a record written by a newer ferry still reads.
 */
export const MigrationStateRecord = z.looseObject({
  migrationId: z.string(),
  step: z.string(),
  // A record without a history (written by hand) reads as one with none.
  history: z.array(z.looseObject({ step: z.string(), at: z.string(), actor: z.string() })).default([]),
  updatedAt: z.string(),
  status: z.enum(["active", "rolling-back", "rolled-back", "removing", "removed"]).optional(),
});

/** The stored state record does not match the schema (edited by hand?). */
export class InvalidMigrationStateError extends FerryError {
  constructor(
    readonly migrationId: string,
    readonly issues: string[],
  ) {
    super(
      `The state record of ${migrationId} is invalid: ${issues.join("; ")}. ` +
        `Correct the item (PK "${migrationPk(migrationId)}", SK "${ControlSk.state}") in the control table, or delete it and run \`ferry add ${migrationId}\` again.`,
    );
  }
}

/** The migration's state record, or undefined before the first step. */
export async function readMigrationState(location: ControlLocation): Promise<MigrationState | undefined> {
  const out = await location.doc.send(
    new GetCommand({
      TableName: location.controlTable,
      Key: { PK: migrationPk(location.migrationId), SK: ControlSk.state },
      ConsistentRead: true,
    }),
  );
  if (!out.Item) return undefined;
  const { PK: _pk, SK: _sk, ...stored } = out.Item;
  const parsed = MigrationStateRecord.safeParse(stored);
  if (!parsed.success) {
    throw new InvalidMigrationStateError(
      location.migrationId,
      parsed.error.issues.map((issue) => `${issue.path.join(".") || "(record)"}: ${issue.message}`),
    );
  }
  return parsed.data as unknown as MigrationState;
}

/**
 * Applies `change` to the state record (created when missing) with optimistic concurrency:
 * the one writer of the record. A change that returns undefined writes nothing (e.g. no
 * record to update, or nothing left to do).
 */
export async function updateState<R extends MigrationState | undefined = MigrationState>(
  location: ControlLocation,
  change: (state: MigrationState | undefined, at: string) => R,
  now: () => Date = () => new Date(),
): Promise<R> {
  return compareAndSwap({ doc: location.doc, record: "state record", migrationId: location.migrationId }, async () => {
    const existing = await readMigrationState(location);
    const at = now().toISOString();
    const changed = change(existing, at);
    if (!changed) return { value: changed };
    // updatedAt must change for the next writer's condition to see this write.
    const stamp = existing && existing.updatedAt >= at ? new Date(Date.parse(existing.updatedAt) + 1).toISOString() : at;
    const next = { ...changed, migrationId: location.migrationId, updatedAt: stamp };
    return {
      value: next,
      put: {
        TableName: location.controlTable,
        Item: { ...stripUndefined(next), PK: migrationPk(location.migrationId), SK: ControlSk.state },
        ...unchangedSince(["updatedAt"], existing?.updatedAt),
      },
    };
  });
}

/** Merges fields into the state record without a history entry (evidence such as a verify result). */
export function patchState(location: ControlLocation, patch: Partial<MigrationState>, now?: () => Date): Promise<MigrationState> {
  return updateState(
    location,
    (state, at) => ({ ...(state ?? { migrationId: location.migrationId, step: "design", history: [], updatedAt: at }), ...patch }),
    now,
  );
}

/** A history entry appended with the step (and optional fields merged into the record). */
export async function recordStep(
  location: ControlLocation,
  entry: Omit<StepEntry, "at">,
  patch: (state: MigrationState, at: string) => Partial<MigrationState> = () => ({}),
  now?: () => Date,
): Promise<MigrationState> {
  return updateState(
    location,
    (state, at) => {
      const base: MigrationState = state ?? { migrationId: location.migrationId, step: entry.step, history: [], updatedAt: at };
      const full: StepEntry = { ...entry, at };
      const event = entry.event ?? "start";
      return {
        ...base,
        ...(event === "rollback" ? {} : { step: entry.step }),
        history: [...base.history, stripUndefined(full)],
        ...(event === "complete" ? { completed: { ...base.completed, [entry.step]: at } } : {}),
        ...patch(base, at),
      };
    },
    now,
  );
}
