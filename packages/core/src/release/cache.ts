/**
 * What an API server knows of one migration's release: the configuration, re-read at most
 * every `cacheMs` (so a flip reaches every instance within that time, no deploy), its
 * request counters, and where shadow results go. A failed re-read keeps serving the last
 * configuration it saw: a control-table hiccup must not flip traffic.
 */
import { isMissingTable } from "../dynamo/missing-table.ts";
import { type ReleaseConfig, INITIAL_RELEASE } from "./config.ts";
import type { ControlLocation } from "../control/keys.ts";
import { readRelease } from "./store.ts";
import { UsageCounter, type UsageCounterOptions } from "./usage.ts";

export interface ReleaseCacheOptions {
  /** How long a read configuration is used (the bound for a flip to propagate is 5 s). */
  cacheMs: number;
  usage: Partial<UsageCounterOptions>;
  now: () => number;
}

export const DEFAULT_RELEASE_CACHE_OPTIONS: ReleaseCacheOptions = { cacheMs: 2_000, usage: {}, now: Date.now };

export class ReleaseCache {
  readonly usage: UsageCounter;
  private value?: { config: ReleaseConfig; readAt: number };
  private inflight?: Promise<ReleaseConfig>;
  private readonly options: ReleaseCacheOptions;

  constructor(
    readonly location: ControlLocation,
    options: Partial<ReleaseCacheOptions> = {},
  ) {
    this.options = { ...DEFAULT_RELEASE_CACHE_OPTIONS, ...options };
    this.usage = new UsageCounter(location, this.options.usage);
  }

  get migrationId(): string {
    return this.location.migrationId;
  }

  /** The configuration, at most `cacheMs` old (one read in flight at a time). */
  async get(): Promise<ReleaseConfig> {
    const now = this.options.now();
    if (this.value && now - this.value.readAt < this.options.cacheMs) return this.value.config;
    this.inflight ??= readRelease(this.location)
      .then((config) => {
        this.value = { config, readAt: this.options.now() };
        return config;
      })
      .catch((err: unknown) => {
        if (this.value) return this.value.config;
        // Never read successfully, and no control table yet (no migration was ever added): serve v1 (the model every client already works with).
        if (isMissingTable(err)) return structuredClone(INITIAL_RELEASE);
        throw err;
      })
      .finally(() => {
        this.inflight = undefined;
      });
    return this.inflight;
  }
}
