/**
 * The network model: a fixed delay added to every DynamoDB request at the SDK middleware,
 * as a simulation of an in-region round trip. On DynamoDB Local a call costs ~1 ms, so a
 * sequential script pays nothing for latency; with 2 ms or 8 ms per call the comparisons
 * show what latency costs each design (parallel segments hide it, one call at a time pays it).
 */
import type { DynamoClients } from "@ferry/core";

/** The delays the network model runs at (ms per call), unless --latency says otherwise. */
export const DEFAULT_LATENCIES_MS = [2, 8];

/** The child processes read their delay from here. */
export const LATENCY_ENV = "FERRY_BENCH_LATENCY_MS";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Delays every attempt of every call of `client` by `ms` (after the retry middleware, so a
 * retried call pays it again, as a real round trip would). The document client shares the
 * raw client's middleware stack, so both are delayed. 0 adds nothing.
 */
export function injectLatency(client: DynamoClients["raw"], ms: number): void {
  if (!(ms > 0)) return;
  client.middlewareStack.add(
    (next) => async (args) => {
      await sleep(ms);
      return next(args);
    },
    { step: "finalizeRequest", priority: "low", name: "benchNetworkLatency" },
  );
}

/** Takes the delay of injectLatency off again. */
export function removeLatency(client: DynamoClients["raw"]): void {
  client.middlewareStack.remove("benchNetworkLatency");
}

/** The delay a child process was started with (LATENCY_ENV), 0 without one. */
export function latencyFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const ms = Number(env[LATENCY_ENV] ?? 0);
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}
