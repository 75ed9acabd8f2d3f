/**
 * Runs cleanup on Ctrl-C / SIGTERM before exiting, so foreground commands never leave an
 * engine or server behind. (A SIGKILL is covered by the engine's own watchdog.)
 */
type Cleanup = () => Promise<void> | void;
const cleanups: Cleanup[] = [];
let installed = false;
let shuttingDown = false;
let received: NodeJS.Signals | undefined;

/** True once a signal started the shutdown: expected exits of children are not failures then. */
export function isShuttingDown(): boolean {
  return shuttingDown;
}

/** The signal that started the shutdown (SIGINT, SIGTERM), if one did. */
export function shutdownSignal(): NodeJS.Signals | undefined {
  return received;
}

export function onShutdown(cleanup: Cleanup): () => void {
  cleanups.push(cleanup);
  if (!installed) {
    installed = true;
    for (const [signal, code] of [
      ["SIGINT", 130],
      ["SIGTERM", 143],
    ] as const) {
      process.once(signal, () => {
        shuttingDown = true;
        received = signal;
        void runCleanups().finally(() => process.exit(code));
      });
    }
  }
  return () => {
    const i = cleanups.indexOf(cleanup);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

export async function runCleanups(): Promise<void> {
  while (cleanups.length > 0) {
    const cleanup = cleanups.pop();
    try {
      await cleanup?.();
    } catch (err) {
      process.stderr.write(`cleanup failed: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
}

/** Resolves on the first SIGINT/SIGTERM (after cleanups registered with onShutdown). */
export function untilSignal(): Promise<void> {
  return new Promise(() => {
    // Keeps the process alive; the signal handlers above exit it.
    setInterval(() => {}, 1 << 30);
  });
}
