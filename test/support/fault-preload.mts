// Loaded into a `ferry` child process (NODE_OPTIONS="--import tsx --import <this file>") to
// inject test/support/faults.ts's faults into every DynamoDB client the process creates:
// FERRY_TEST_FAULTS holds the FaultOptions as JSON. The clients are made inside ferry, so the
// faults go on each client's middleware stack at its first call (smithy's Client.send).
// FERRY_TEST_COUNT_FILE: a JSON file the process rewrites with its calls per operation and table,
// and the faults it met ("fault throttled", "fault unprocessedKeys", ...), summed over its clients.
import { renameSync, writeFileSync } from "node:fs";
// The SDK clients (client-dynamodb, lib-dynamodb) extend this Client.
import { Client } from "@smithy/core/client";
import { type FaultCounters, type FaultOptions, injectFaults } from "./faults.ts";

const options = JSON.parse(process.env.FERRY_TEST_FAULTS ?? "{}") as FaultOptions;
const countFile = process.env.FERRY_TEST_COUNT_FILE;
const counts: Record<string, number> = {};
const seen = new WeakSet<object>();
const send = Client.prototype.send;
const faults: FaultCounters[] = [];
const snapshot = () => {
  const met: Record<string, number> = {};
  for (const c of faults) for (const [name, n] of Object.entries(c)) met[`fault ${name}`] = (met[`fault ${name}`] ?? 0) + n;
  return { ...counts, ...met };
};
// Written aside and renamed: a reader never sees a half-written file.
if (countFile) setInterval(() => (writeFileSync(`${countFile}.tmp`, JSON.stringify(snapshot())), renameSync(`${countFile}.tmp`, countFile)), 100).unref();

Client.prototype.send = function (this: Client<never, never, never, never>, ...args: never[]) {
  const stack = this.middlewareStack as unknown as object;
  if (!seen.has(stack) && (this.config as { serviceId?: string }).serviceId === "DynamoDB") {
    seen.add(stack);
    faults.push(injectFaults(this as never, options));
    if (countFile) {
      this.middlewareStack.add(
        ((next: (a: unknown) => Promise<unknown>, context: { commandName?: string }) => async (a: { input: { TableName?: string } }) => {
          const name = `${context.commandName?.replace(/Command$/, "")} ${a.input.TableName ?? ""}`.trim();
          counts[name] = (counts[name] ?? 0) + 1;
          return next(a);
        }) as never,
        { step: "initialize", priority: "high", name: "ferryTestCount" },
      );
    }
  }
  return send.apply(this, args as never);
} as typeof send;
