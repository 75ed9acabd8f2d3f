/**
 * Writes one shard's checkpoints off the delivery path: the newest position wins, one write is
 * in flight at a time, and at most one starts per interval, so the next batch never waits for
 * the control table. `flush()` stores the newest position and waits for it; the shard reader
 * flushes before it stops or marks the shard finished, so a clean stop resumes exactly after
 * the last record done. After a crash the reader resumes from the last stored position: at
 * most one interval of records is delivered again (delivery is at least once either way).
 */

/** Positions in, durable checkpoints out. */
export class CheckpointWriter {
  private pending: string | undefined;
  private inFlight: Promise<void> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastStartedAt = Number.NEGATIVE_INFINITY;
  private failure: { error: unknown } | undefined;

  constructor(
    private readonly save: (sequenceNumber: string) => Promise<void>,
    /** Least time between two writes; 0 writes after every batch (still one at a time). */
    private readonly intervalMs: number,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** Records that every record up to `sequenceNumber` is done; throws (once) the error of an earlier write that failed, which is then retried. */
  mark(sequenceNumber: string): void {
    this.throwIfFailed();
    this.pending = sequenceNumber;
    this.schedule();
  }

  /** Stores the newest position now (whatever the interval) and waits until it is written; throws when a write failed. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (;;) {
      this.throwIfFailed();
      if (this.inFlight) await this.inFlight;
      else if (this.pending === undefined) return;
      else this.start();
    }
  }

  private schedule(): void {
    if (this.inFlight || this.timer || this.pending === undefined || this.failure) return;
    const wait = this.lastStartedAt + this.intervalMs - this.clock();
    if (wait <= 0) {
      this.start();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.schedule();
    }, wait);
  }

  private start(): void {
    const sequenceNumber = this.pending as string;
    this.pending = undefined;
    this.lastStartedAt = this.clock();
    this.inFlight = this.save(sequenceNumber).then(
      () => {
        this.inFlight = undefined;
        this.schedule();
      },
      (error: unknown) => {
        this.inFlight = undefined;
        // Thrown by the next mark (the reader retries as after a failed read) or flush (the mapping stops).
        this.failure ??= { error };
        this.pending ??= sequenceNumber;
      },
    );
  }

  private throwIfFailed(): void {
    const failed = this.failure;
    if (!failed) return;
    this.failure = undefined;
    throw failed.error;
  }
}
