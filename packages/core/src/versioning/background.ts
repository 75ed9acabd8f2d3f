/**
 * Work done after the answer is sent (shadow reads, counter flushes). A long-running server
 * lets it run; a Lambda handler drains it before returning, because a frozen Lambda would
 * lose it. Failures are handed to `onError`, never to the client.
 */
export class Background {
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly onError: (err: unknown) => void) {}

  run(task: () => Promise<void>): void {
    const promise: Promise<void> = task()
      .catch((err: unknown) => this.onError(err))
      .finally(() => this.running.delete(promise));
    this.running.add(promise);
  }

  /** Resolves when everything started so far (and anything it started) has finished. */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }
}
