/**
 * Base class of every error ferry raises on purpose. Each subclass names one condition,
 * carries its data, and says in its message what to do next. The CLI prints `message`
 * (never a stack trace) for these.
 */
export class FerryError extends Error {
  /** Process exit code the CLI uses for this error (1 failed, 2 usage, 3 refused by a guard). */
  readonly exitCode: number = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad input from a user: flags, files, requests. */
export class UsageError extends FerryError {
  override readonly exitCode = 2;
}

/**
 * A command refused because a precondition does not hold (exit code 3): the guards of a
 * lifecycle step, a stream that is off, a backfill that already runs. Each names the
 * condition in `guard`; the lifecycle emits a `refused` event with it. The message says how
 * to satisfy it.
 */
export abstract class RefusalError extends FerryError {
  override readonly exitCode = 3;
  /** Short name of the condition, e.g. "dual-write-live", "stream-enabled". */
  abstract readonly guard: string;
}

/**
 * A lifecycle transition refused by one of its guards (lifecycle/guards.ts holds one class
 * per guard). `forceable` guards may be overridden with --force --reason.
 */
export abstract class GuardRefusedError extends RefusalError {
  readonly forceable: boolean = false;
}
