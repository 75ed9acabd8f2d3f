// The preload's entry (FAULT_NODE_OPTIONS in faults.ts). NODE_OPTIONS reaches every thread,
// tsx's own module-hooks thread included: a TypeScript preload evaluated there needs the very
// hooks that thread is busy providing, and on a cold tsx cache the process hangs before its
// first line (seen in CI, and every time with /tmp/tsx-* removed). Plain JavaScript, and the
// main thread only.
import { isMainThread } from "node:worker_threads";

if (isMainThread) await import("./fault-preload.mts");
