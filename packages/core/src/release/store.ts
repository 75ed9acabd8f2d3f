/**
 * Reads and changes a migration's release configuration in the control table. Every change
 * is a conditional write on the record's revision (two release managers flipping at once:
 * one wins, the other re-reads and applies its change on top) and appends an audit entry.
 */
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { compareAndSwap, unchangedSince } from "../control/cas.ts";
import { type ControlLocation, ControlSk, controlKey, withoutControlKey } from "../control/keys.ts";
import { FerryError, RefusalError, UsageError } from "../errors.ts";
import { type ApiVersion, HISTORY_LIMIT, INITIAL_RELEASE, type ReleaseChange, ReleaseConfig } from "./config.ts";

/** The stored release record does not match the schema (edited by hand?). */
export class InvalidReleaseConfigError extends FerryError {
  constructor(
    readonly migrationId: string,
    readonly issues: string[],
  ) {
    super(
      `The release record of ${migrationId} is invalid: ${issues.join("; ")}. ` +
        `Fix it with \`ferry move ${migrationId} --to v1\` (rewrites it) or correct the item (SK "${ControlSk.release}") in the control table.`,
    );
  }
}

/** The release configuration; the initial one (all v1) before any move. */
export async function readRelease(location: ControlLocation): Promise<ReleaseConfig> {
  const out = await location.doc.send(
    new GetCommand({
      TableName: location.controlTable,
      Key: controlKey(location.migrationId, ControlSk.release),
      ConsistentRead: true,
    }),
  );
  if (!out.Item) return structuredClone(INITIAL_RELEASE);
  const stored = withoutControlKey(out.Item);
  const parsed = ReleaseConfig.safeParse(stored);
  if (!parsed.success) {
    throw new InvalidReleaseConfigError(
      location.migrationId,
      parsed.error.issues.map((issue) => `${issue.path.join(".") || "(record)"}: ${issue.message}`),
    );
  }
  return parsed.data;
}

/** What a caller wants changed; omitted fields stay as they are. */
export interface ReleaseUpdate {
  action: ReleaseChange["action"];
  actor: string;
  reason?: string;
  tenant?: string;
  change: (config: ReleaseConfig) => ReleaseConfig;
  now?: () => Date;
}

/** Applies `change` with optimistic concurrency; returns the previous and the new configuration. */
export async function updateRelease(location: ControlLocation, update: ReleaseUpdate): Promise<{ before: ReleaseConfig; after: ReleaseConfig }> {
  return compareAndSwap({ doc: location.doc, record: "release record", migrationId: location.migrationId }, async () => {
    const before = await readRelease(location);
    const at = (update.now?.() ?? new Date()).toISOString();
    const changed = update.change(structuredClone(before));
    const entry: ReleaseChange = {
      at,
      actor: update.actor,
      action: update.action,
      from: { v2Percent: before.v2Percent, shadowPercent: before.shadowPercent },
      to: { v2Percent: changed.v2Percent, shadowPercent: changed.shadowPercent },
      ...(update.reason ? { reason: update.reason } : {}),
      ...(update.tenant ? { tenant: update.tenant } : {}),
    };
    const after: ReleaseConfig = ReleaseConfig.parse({
      ...changed,
      history: [...changed.history, entry].slice(-HISTORY_LIMIT),
      revision: before.revision + 1,
    });
    return {
      value: { before, after },
      put: {
        TableName: location.controlTable,
        Item: { ...controlKey(location.migrationId, ControlSk.release), ...after },
        // Revision 0 is the initial configuration, never stored.
        ...unchangedSince(["revision"], before.revision === 0 ? undefined : before.revision),
      },
    };
  });
}

/** How `ferry move` describes a move. */
export interface MoveRequest {
  to: ApiVersion;
  /** Share of tenants on v2 (default 100 with `to: "v2"`; `to: "v1"` always means 0). */
  percent?: number;
  /** Shadow-read percentage; unchanged when omitted. */
  shadow?: number;
  actor: string;
  reason?: string;
  /** Days from the first move to the Sunset date announced on v1. */
  sunsetDays?: number;
  now?: () => Date;
}

/** Default Sunset announced on v1: 30 days after the move starts. */
export const DEFAULT_SUNSET_DAYS = 30;

/** The percentage flag does not fit the direction (e.g. `--to v1 --percent 50`). */
export class InvalidMoveError extends UsageError {}

/**
 * Throws InvalidMoveError when the request's flags do not fit (checked before the move step is
 * recorded, so a usage error leaves no history entry); returns the v2 percentage it asks for.
 */
export function checkMoveRequest(request: Pick<MoveRequest, "to" | "percent" | "shadow">): number {
  if (request.to === "v1" && request.percent !== undefined && request.percent !== 0) {
    throw new InvalidMoveError("--to v1 flips every tenant back to v1; to keep some on v2 use --to v2 --percent N.");
  }
  const percent = request.to === "v1" ? 0 : (request.percent ?? 100);
  for (const [name, value] of [
    ["percent", percent],
    ["shadow", request.shadow],
  ] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value < 0 || value > 100)) {
      throw new InvalidMoveError(`--${name} must be an integer from 0 to 100 (got ${value}).`);
    }
  }
  return percent;
}

/** Moves traffic: `to: "v1"` is the instant flip back; `to: "v2"` ramps to `percent`. */
export async function moveRelease(location: ControlLocation, request: MoveRequest) {
  const percent = checkMoveRequest(request);
  return updateRelease(location, {
    action: "move",
    actor: request.actor,
    ...(request.reason ? { reason: request.reason } : {}),
    ...(request.now ? { now: request.now } : {}),
    change: (config) => {
      if (config.v1RetiredAt && request.to === "v1") {
        throw new V1RetiredError(location.migrationId);
      }
      const now = request.now?.() ?? new Date();
      const starting = percent > 0 && !config.moveStartedAt;
      return {
        ...config,
        v2Percent: percent,
        ...(request.shadow !== undefined ? { shadowPercent: request.shadow } : {}),
        ...(starting
          ? {
              moveStartedAt: now.toISOString(),
              sunsetAt: new Date(now.getTime() + (request.sunsetDays ?? DEFAULT_SUNSET_DAYS) * 86_400_000).toISOString(),
            }
          : {}),
      };
    },
  });
}

/** v1 was retired by the remove step; there is nothing left to flip back to. */
export class V1RetiredError extends RefusalError {
  readonly guard = "v1-retired";
  constructor(readonly migrationId: string) {
    super(
      `v1 of ${migrationId} was retired by \`ferry remove\`; it cannot serve traffic again. Restore the old data first (\`ferry restore <backup>\`), then \`ferry unretire ${migrationId} --reason "..."\`, then move.`,
    );
  }
}

/** Pins one tenant to a version (or unpins it with `version: undefined`). */
export async function pinTenant(location: ControlLocation, tenant: string, version: ApiVersion | undefined, actor: string) {
  return updateRelease(location, {
    action: version ? "pin" : "unpin",
    actor,
    tenant,
    change: (config) => {
      const pins = { ...config.pins };
      if (version) pins[tenant] = version;
      else delete pins[tenant];
      return { ...config, pins };
    },
  });
}

/** Marks v1 retired (remove step) or brings it back (`retired: false`, rollback of a remove). */
export async function setV1Retired(location: ControlLocation, retired: boolean, actor: string, reason?: string, now?: () => Date) {
  return updateRelease(location, {
    action: retired ? "retire-v1" : "restore-v1",
    actor,
    ...(reason ? { reason } : {}),
    change: (config) => {
      const next = { ...config };
      if (retired) next.v1RetiredAt = (now?.() ?? new Date()).toISOString();
      else delete next.v1RetiredAt;
      return next;
    },
  });
}
