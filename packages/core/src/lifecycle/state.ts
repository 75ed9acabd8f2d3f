/**
 * Writes to the migration's state record (SK `state`, shape in lifecycle/phases/add.ts) for the
 * lifecycle: each change is a read-modify-write guarded by `updatedAt`, so two commands on
 * the same migration never lose each other's history entries; different migrations have
 * different partition keys and never touch each other.
 */
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import type { DynamoClients } from "../aws/dynamodb.ts";
import { FerryError } from "../errors.ts";
import { type MigrationState, type StepEntry, readMigrationState } from "./phases/add.ts";
import { ControlSk, migrationPk } from "../control/control-table.ts";

export interface StateLocation {
  doc: DynamoClients["doc"];
  controlTable: string;
  migrationId: string;
}

/**
 * Applies `change` to the state record (created when missing) with optimistic concurrency.
 * A change that returns undefined writes nothing (e.g. no record to update).
 */
export async function updateState<R extends MigrationState | undefined = MigrationState>(
  location: StateLocation,
  change: (state: MigrationState | undefined, at: string) => R,
  now: () => Date = () => new Date(),
): Promise<R> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const existing = await readMigrationState(location);
    const at = now().toISOString();
    const changed = change(existing, at);
    if (!changed) return changed;
    // updatedAt must change for the next writer's condition to see this write.
    const stamp = existing && existing.updatedAt >= at ? new Date(Date.parse(existing.updatedAt) + 1).toISOString() : at;
    const next = { ...changed, migrationId: location.migrationId, updatedAt: stamp };
    try {
      await location.doc.send(
        new PutCommand({
          TableName: location.controlTable,
          Item: { ...stripUndefined(next), PK: migrationPk(location.migrationId), SK: ControlSk.state },
          ...(existing
            ? { ConditionExpression: "updatedAt = :seen", ExpressionAttributeValues: { ":seen": existing.updatedAt } }
            : { ConditionExpression: "attribute_not_exists(PK)" }),
        }),
      );
      return next;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }
  throw new FerryError(`The state of ${location.migrationId} kept changing under this command; run it again.`);
}

/** A history entry appended with the step (and optional fields merged into the record). */
export async function recordStep(
  location: StateLocation,
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
        history: [...base.history, stripUndefined(full) as StepEntry],
        ...(event === "complete" ? { completed: { ...base.completed, [entry.step]: at } } : {}),
        ...patch(base, at),
      };
    },
    now,
  );
}

/** A verify result as the state record keeps it (the move guard reads it, `ferry status` shows it). */
export type Verification = NonNullable<MigrationState["verification"]>;

/** The counts of a verify report that the state record keeps. */
export function verificationOf(
  report: { clean: boolean; missing: number; orphans: number; different: number; invalidSources: number },
  at: Date,
): Verification {
  return { at: at.toISOString(), clean: report.clean, missing: report.missing, orphans: report.orphans, different: report.different, invalidSources: report.invalidSources };
}

/**
 * Keeps the latest verify result of a migration that has a state record (`ferry add` creates
 * it); a migration never added gets none. Returns whether it was recorded.
 */
export async function recordVerification(location: StateLocation, verification: Verification): Promise<boolean> {
  const updated = await updateState(location, (state) => (state ? { ...state, verification } : undefined)).catch((err: unknown) => {
    // No control table yet: nothing was added.
    if (err instanceof Error && err.name === "ResourceNotFoundException") return undefined;
    throw err;
  });
  return updated !== undefined;
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
