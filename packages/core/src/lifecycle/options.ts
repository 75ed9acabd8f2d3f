/**
 * The lifecycle's tunable thresholds (guards) as one typed object with exported defaults,
 * which the CLI flags reuse, and the duration syntax those flags take (`7d`, `15m`, `30s`).
 */
import { UsageError } from "../errors.ts";
import { DEFAULT_PROBE_OPTIONS } from "../dualwrite/liveness.ts";

export interface GuardOptions {
  /** convert and rollback: a dual-write heartbeat younger than this counts as live (ms). */
  maxHeartbeatAgeMs: number;
  /** convert: with an older heartbeat, how long a liveness ping may take to come back (ms; 0: no probe, refuse). */
  probeTimeoutMs: number;
  /** remove: time v2 must have served 100% before v1 can go (ms). */
  soakMs: number;
  /** remove: no v1 request may have been counted within this window (ms). */
  v1QuietWindowMs: number;
  /** Clock (ms since the epoch); tests move it. */
  now: () => number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const DEFAULT_GUARD_OPTIONS: GuardOptions = {
  maxHeartbeatAgeMs: 5 * MINUTE,
  probeTimeoutMs: DEFAULT_PROBE_OPTIONS.timeoutMs,
  soakMs: 7 * DAY,
  v1QuietWindowMs: 24 * HOUR,
  now: Date.now,
};

/** A duration flag that does not parse. */
export class InvalidDurationError extends UsageError {
  constructor(readonly value: string) {
    super(`"${value}" is not a duration; use a number with a unit: 500ms, 30s, 15m, 2h, 7d (0 for none).`);
  }
}

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: MINUTE, min: MINUTE, h: HOUR, d: DAY };

/** Parses `7d`, `15m`, `30s`, `500ms`, `2h`, or `0` into milliseconds. */
export function parseDuration(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$/.exec(value);
  if (!match) throw new InvalidDurationError(value);
  const amount = Number(match[1]);
  const unit = match[2];
  if (!unit) {
    if (amount === 0) return 0;
    throw new InvalidDurationError(value);
  }
  return Math.round(amount * (UNITS[unit] as number));
}

/** 7d, 1.5h, 15m, 30s, 500ms: the largest unit that fits, to one decimal. */
export function formatDurationMs(ms: number): string {
  for (const [unit, size] of [
    ["d", DAY],
    ["h", HOUR],
    ["m", MINUTE],
    ["s", 1_000],
  ] as const) {
    if (ms >= size) return `${Number((ms / size).toFixed(1))}${unit}`;
  }
  return `${Math.round(ms)}ms`;
}
