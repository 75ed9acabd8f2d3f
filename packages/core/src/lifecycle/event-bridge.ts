/**
 * Step events on AWS: a StepListener that publishes every transition to the stage's
 * EventBridge bus (PutEvents, Source "ferry", DetailType "ferry.step", Detail = the same JSON
 * `--events` prints). Listeners are synchronous, so events are queued and sent in the
 * background, at most 10 entries per PutEvents (EventBridge's limit); entries PutEvents
 * reports as failed (FailedEntryCount) are retried with backoff. Events are notifications:
 * a publish that still fails is a warning on stderr, never a step's outcome. `flush()`
 * waits until everything queued was sent or given up, so a CLI awaits it before exiting.
 */
import { type EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from "@aws-sdk/client-eventbridge";
import { type BackoffOptions, backoffDelay, sleep as defaultSleep } from "../util/backoff.ts";
import type { StepEvent, StepListener } from "./events.ts";

/** The `source` of every ferry event (an EventBridge rule matches it). */
export const STEP_EVENT_SOURCE = "ferry";
/** The `detail-type` of a step transition. */
export const STEP_EVENT_DETAIL_TYPE = "ferry.step";
/** PutEvents takes at most 10 entries. */
export const MAX_PUT_EVENTS_ENTRIES = 10;

export interface EventBridgePublisherOptions {
  client: EventBridgeClient;
  /** The stage's bus (Storage stack output `EventBusName`). */
  eventBusName: string;
  /** ARNs the events concern (e.g. the stage's table), in each entry's `Resources`. */
  resources?: string[];
  /** Retries of failed entries (and of server-side PutEvents errors). */
  backoff?: BackoffOptions;
  /** How long `flush()` waits at most before giving up on what is left (ms). */
  flushTimeoutMs?: number;
  /** Where warnings go (default stderr). */
  warn?: (message: string) => void;
  sleep?: (ms: number) => Promise<void>;
}

export const DEFAULT_EVENT_BRIDGE_OPTIONS = {
  backoff: { baseMs: 100, maxMs: 2_000, maxAttempts: 5 } satisfies BackoffOptions,
  flushTimeoutMs: 15_000,
};

export interface EventBridgePublisher {
  /** Add to a LifecycleContext's `listeners`. */
  listener: StepListener;
  /** Resolves once every event queued so far was published or given up (never rejects). */
  flush(): Promise<void>;
  /** Events published, and events given up (each warned about). */
  readonly stats: { published: number; failed: number };
}

/** One StepEvent as a PutEvents entry. */
export function stepEventEntry(event: StepEvent, eventBusName: string, resources: string[] = []): PutEventsRequestEntry {
  return {
    Source: STEP_EVENT_SOURCE,
    DetailType: STEP_EVENT_DETAIL_TYPE,
    Detail: JSON.stringify(event),
    EventBusName: eventBusName,
    Time: new Date(event.at),
    ...(resources.length ? { Resources: resources } : {}),
  };
}

/** A publisher of step events to `eventBusName`. */
export function eventBridgePublisher(options: EventBridgePublisherOptions): EventBridgePublisher {
  const backoff = options.backoff ?? DEFAULT_EVENT_BRIDGE_OPTIONS.backoff;
  const warn = options.warn ?? ((message: string) => void process.stderr.write(`${message}\n`));
  const sleep = options.sleep ?? defaultSleep;
  const stats = { published: 0, failed: 0 };
  const queue: { event: StepEvent; entry: PutEventsRequestEntry }[] = [];
  let tail: Promise<void> = Promise.resolve();
  let scheduled = false;

  async function publish(batch: typeof queue): Promise<void> {
    let pending = batch;
    let why = "";
    for (let attempt = 1; pending.length > 0; attempt++) {
      let retryable = true;
      try {
        const out = await options.client.send(new PutEventsCommand({ Entries: pending.map((p) => p.entry) }));
        const results = out.Entries ?? [];
        const failed = out.FailedEntryCount ? pending.filter((_, i) => !results[i]?.EventId || results[i]?.ErrorCode) : [];
        stats.published += pending.length - failed.length;
        if (failed.length > 0) {
          const codes = [...new Set(failed.map((p) => results[pending.indexOf(p)]?.ErrorCode ?? "no EventId"))];
          why = `${failed.length} entr${failed.length === 1 ? "y" : "ies"} failed: ${codes.join(", ")}`;
        }
        pending = failed;
      } catch (err) {
        const e = err as { name?: string; message?: string; $fault?: string };
        why = `${e.name ?? "Error"}: ${e.message ?? String(err)}`;
        // The SDK already retried throttling and network errors; a client fault (no such bus, access denied) will not heal.
        retryable = e.$fault === "server";
      }
      if (pending.length === 0) return;
      if (!retryable || attempt >= backoff.maxAttempts) break;
      await sleep(backoffDelay(attempt, backoff));
    }
    stats.failed += pending.length;
    warn(
      `Warning: could not publish ${pending.length} step event(s) to the EventBridge bus ${options.eventBusName} (${why}): ` +
        `${pending.map((p) => `${p.event.migrationId} ${p.event.step} ${p.event.event}`).join("; ")}. The steps themselves are unaffected.`,
    );
  }

  async function drain(): Promise<void> {
    scheduled = false;
    while (queue.length > 0) await publish(queue.splice(0, MAX_PUT_EVENTS_ENTRIES));
  }

  return {
    stats,
    listener(event) {
      queue.push({ event, entry: stepEventEntry(event, options.eventBusName, options.resources) });
      if (scheduled) return;
      scheduled = true;
      // Events emitted in the same tick share one PutEvents.
      tail = tail.then(drain, drain);
    },
    async flush() {
      const deadline = Date.now() + (options.flushTimeoutMs ?? DEFAULT_EVENT_BRIDGE_OPTIONS.flushTimeoutMs);
      for (;;) {
        const current = tail;
        const left = deadline - Date.now();
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([
          current.then(() => false),
          new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), Math.max(0, left)))),
        ]);
        clearTimeout(timer);
        if (timedOut) {
          const waiting = queue.length;
          warn(
            `Warning: gave up waiting for the EventBridge bus ${options.eventBusName} after ${options.flushTimeoutMs ?? DEFAULT_EVENT_BRIDGE_OPTIONS.flushTimeoutMs} ms; ${waiting} step event(s) not yet sent may be lost.`,
          );
          return;
        }
        if (current === tail && queue.length === 0) return;
      }
    },
  };
}
