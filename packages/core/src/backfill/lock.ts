/**
 * One backfill per migration: a lease in the control table taken with a conditional write
 * and renewed by a heartbeat. A crashed holder stops renewing; its lease lapses within
 * seconds and the next `ferry resume` takes over without manual unlocking.
 */
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { RefusalError } from "../errors.ts";
import { ControlSk, controlKey } from "../control/keys.ts";
import { sleep } from "../util/backoff.ts";
import type { StateStore } from "./state.ts";

export interface LockOptions {
  /** Lease length; renewed every third of it. */
  leaseMs: number;
  /** Wait up to this long for a held lease to lapse (0: fail at once). */
  waitMs: number;
}

export const DEFAULT_LOCK_OPTIONS: LockOptions = { leaseMs: 10_000, waitMs: 0 };

export interface LockHolder {
  owner: string;
  acquiredAt: number;
  leaseUntil: number;
}

/** Another process holds the backfill's lease: a refusal (exit 3) until it ends or its lease lapses. */
export class BackfillLockedError extends RefusalError {
  readonly guard = "backfill-not-running";
  constructor(
    readonly migrationId: string,
    readonly holder: LockHolder,
  ) {
    super(
      `A backfill of ${migrationId} is already running: held by ${holder.owner} since ${new Date(holder.acquiredAt).toISOString()} ` +
        `(lease until ${new Date(holder.leaseUntil).toISOString()}). Use \`ferry pause\`/\`ferry abort\` to stop it, ` +
        "or `ferry resume` to take over once its lease lapses.",
    );
  }
}

export interface Lease {
  owner: string;
  /** Stops renewing and deletes the lease. */
  release(): Promise<void>;
  /** Resolves if the lease is lost (someone else took it). */
  lost: Promise<void>;
}

export async function readLock(store: StateStore): Promise<LockHolder | undefined> {
  const out = await store.doc.send(
    new GetCommand({ TableName: store.controlTable, Key: controlKey(store.migrationId, ControlSk.backfillLock), ConsistentRead: true }),
  );
  return out.Item ? (out.Item as unknown as LockHolder) : undefined;
}

async function tryTake(store: StateStore, owner: string, leaseMs: number, acquiredAt: number): Promise<boolean> {
  const now = Date.now();
  try {
    await store.doc.send(
      new PutCommand({
        TableName: store.controlTable,
        Item: { ...controlKey(store.migrationId, ControlSk.backfillLock), owner, acquiredAt, leaseUntil: now + leaseMs },
        ConditionExpression: "attribute_not_exists(PK) OR leaseUntil < :now OR #owner = :owner",
        ExpressionAttributeNames: { "#owner": "owner" },
        ExpressionAttributeValues: { ":now": now, ":owner": owner },
      }),
    );
    return true;
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return false;
    throw err;
  }
}

/** Takes the backfill lease for `owner`, waiting up to `waitMs` for a held one to lapse. */
export async function acquireLock(store: StateStore, owner: string, options: Partial<LockOptions> = {}): Promise<Lease> {
  const opts = { ...DEFAULT_LOCK_OPTIONS, ...options };
  const deadline = Date.now() + opts.waitMs;
  const acquiredAt = Date.now();
  while (!(await tryTake(store, owner, opts.leaseMs, acquiredAt))) {
    const holder = await readLock(store);
    if (!holder) continue;
    if (Date.now() >= deadline) throw new BackfillLockedError(store.migrationId, holder);
    await sleep(Math.min(500, Math.max(50, holder.leaseUntil - Date.now() + 10)));
  }
  let released = false;
  let markLost: () => void = () => {};
  const lost = new Promise<void>((resolve) => (markLost = resolve));
  const renew = setInterval(
    async () => {
      if (released) return;
      try {
        if (!(await tryTake(store, owner, opts.leaseMs, acquiredAt))) {
          clearInterval(renew);
          markLost();
        }
      } catch {
        // A failed renewal is retried at the next tick; the lease is long enough for that.
      }
    },
    Math.max(50, Math.floor(opts.leaseMs / 3)),
  );
  renew.unref();
  return {
    owner,
    lost,
    async release() {
      released = true;
      clearInterval(renew);
      await store.doc
        .send(
          new DeleteCommand({
            TableName: store.controlTable,
            Key: controlKey(store.migrationId, ControlSk.backfillLock),
            ConditionExpression: "#owner = :owner",
            ExpressionAttributeNames: { "#owner": "owner" },
            ExpressionAttributeValues: { ":owner": owner },
          }),
        )
        .catch((err) => {
          if (!(err instanceof ConditionalCheckFailedException)) throw err;
        });
    },
  };
}
