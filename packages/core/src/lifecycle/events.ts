/**
 * Lifecycle events: every step transition (start, complete, rollback) is also emitted as one
 * JSON object, which `--events` prints as one line on stdout and, with `--stage`, the
 * stage's EventBridge bus receives as the event's detail (event-bridge.ts). Listeners must
 * not throw: an event is a notification, never a step's outcome.
 */

/** One transition, as emitted. */
export interface StepEvent {
  type: "ferry.step";
  migrationId: string;
  step: string;
  event: "start" | "complete" | "rollback" | "refused";
  /** ISO time. */
  at: string;
  actor: string;
  reason?: string;
  /** Guards overridden with --force, or (event "refused") the guard that refused. */
  forced?: string[];
  guard?: string;
  detail?: Record<string, unknown>;
}

export type StepListener = (event: StepEvent) => void;

/** A listener writing each event as one JSON line (`--events`). */
export function jsonLineListener(write: (line: string) => void = (line) => process.stdout.write(line)): StepListener {
  return (event) => write(`${JSON.stringify(event)}\n`);
}

/** Calls every listener, isolating their failures. */
export function emitStep(listeners: readonly StepListener[] | undefined, event: StepEvent): void {
  for (const listener of listeners ?? []) {
    try {
      listener(event);
    } catch {
      // A broken listener never changes the step.
    }
  }
}
