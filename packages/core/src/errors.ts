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
