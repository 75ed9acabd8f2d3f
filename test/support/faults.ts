// Fault injection at the SDK client's middleware: the only way to meet throttling and
// unprocessed items on DynamoDB Local, which never produces either.
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ProvisionedThroughputExceededException } from "@aws-sdk/client-dynamodb";
import { join } from "node:path";
import { type Random, seededRandom } from "@ferry/core/util/random";

/**
 * NODE_OPTIONS for a `ferry` child process (the real bin) whose DynamoDB clients meet the
 * faults of FERRY_TEST_FAULTS (test/support/fault-preload.mjs).
 */
export const FAULT_NODE_OPTIONS = `--import tsx --import ${join(import.meta.dirname, "fault-preload.mjs")}`;

export interface FaultOptions {
  /**
   * Share of BatchWriteItem calls that leave half their requests unprocessed, and of
   * BatchExecuteStatement calls that answer half their statements with a throttling error
   * (PartiQL's form of the same).
   */
  unprocessedRate?: number;
  /** Share of BatchGetItem calls that leave half their keys unprocessed. */
  unprocessedKeysRate?: number;
  /** Share of calls (of the listed operations) that fail with ProvisionedThroughputExceededException. */
  throttleRate?: number;
  throttleOperations?: string[];
  /** The first n calls of the throttled operations all fail (a burst no retry rides out), then throttleRate applies. */
  throttleFirst?: number;
  /**
   * Throttle inside the SDK's retry strategy (a deserialize-step middleware, where DynamoDB's
   * own throttling lands, so the SDK retries it first); default: above it (serialize step),
   * a throttle that outlasts every SDK retry and reaches ferry's code.
   */
  throttleInsideRetries?: boolean;
  /** Only calls on these tables (TableName, or a table of RequestItems) meet faults; default every table. */
  tables?: string[];
  seed?: number;
}

export interface FaultCounters {
  unprocessedKeys: number;
  unprocessedCalls: number;
  unprocessedItems: number;
  throttled: number;
}

type AnyInput = { RequestItems?: Record<string, unknown[]> };
type AnyOutput = { output: { UnprocessedItems?: Record<string, unknown[]> } };

/** Installs the faults on `client` and returns live counters. */
export function injectFaults(client: DynamoDBClient, options: FaultOptions): FaultCounters {
  const random: Random = seededRandom(options.seed ?? 7);
  const counters: FaultCounters = { unprocessedKeys: 0, unprocessedCalls: 0, unprocessedItems: 0, throttled: 0 };
  let burst = options.throttleFirst ?? 0;
  const throttles = (operation: string) => {
    if (!(options.throttleOperations ?? [operation]).includes(operation)) return false;
    if (burst > 0) return burst-- > 0;
    return !!options.throttleRate && random() < options.throttleRate;
  };
  if (options.throttleInsideRetries) {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const operation = context.commandName?.replace(/Command$/, "") ?? "";
        if (options.tables && !touchesTables(args.input, options.tables)) return next(args);
        if (throttles(operation)) {
          counters.throttled++;
          // What the SDK's retry strategy sees of a real throttle: a throttling error with a 400 status.
          throw new ProvisionedThroughputExceededException({ message: "injected throttling", $metadata: { httpStatusCode: 400 } });
        }
        return next(args);
      },
      { step: "deserialize", priority: "low", name: "ferryTestThrottle" },
    );
  }
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = context.commandName?.replace(/Command$/, "") ?? "";
      if (options.tables && !touchesTables(args.input, options.tables)) return next(args);
      if (!options.throttleInsideRetries && throttles(operation)) {
        counters.throttled++;
        throw new ProvisionedThroughputExceededException({ message: "injected throttling", $metadata: {} });
      }
      if (operation === "BatchGetItem" && options.unprocessedKeysRate && random() < options.unprocessedKeysRate) {
        const input = args.input as { RequestItems?: Record<string, { Keys: unknown[] }> };
        const held: Record<string, { Keys: unknown[] }> = {};
        const sent: Record<string, { Keys: unknown[] }> = {};
        for (const [table, request] of Object.entries(input.RequestItems ?? {})) {
          const keep = Math.ceil(request.Keys.length / 2);
          sent[table] = { ...request, Keys: request.Keys.slice(0, keep) };
          if (request.Keys.length > keep) held[table] = { ...request, Keys: request.Keys.slice(keep) };
        }
        const heldCount = Object.values(held).reduce((n, r) => n + r.Keys.length, 0);
        if (heldCount > 0) {
          counters.unprocessedKeys += heldCount;
          const result = (await next({ ...args, input: { ...input, RequestItems: sent } })) as { output: { UnprocessedKeys?: Record<string, unknown> } };
          result.output.UnprocessedKeys = { ...(result.output.UnprocessedKeys ?? {}), ...held };
          return result as never;
        }
      }
      if (operation === "BatchExecuteStatement" && options.unprocessedRate && random() < options.unprocessedRate) {
        const input = args.input as { Statements?: unknown[] };
        const statements = input.Statements ?? [];
        const keep = Math.ceil(statements.length / 2);
        if (statements.length > keep) {
          counters.unprocessedCalls++;
          counters.unprocessedItems += statements.length - keep;
          const result = (await next({ ...args, input: { ...input, Statements: statements.slice(0, keep) } })) as { output: { Responses?: unknown[] } };
          const throttled = { Error: { Code: "ProvisionedThroughputExceeded", Message: "injected throttling" } };
          result.output.Responses = [...(result.output.Responses ?? []), ...statements.slice(keep).map(() => throttled)];
          return result as never;
        }
      }
      if (operation === "BatchWrite" || operation === "BatchWriteItem") {
        const input = args.input as AnyInput;
        if (options.unprocessedRate && random() < options.unprocessedRate && input.RequestItems) {
          // Send only the first half; report the rest as unprocessed, exactly as DynamoDB would.
          const held: Record<string, unknown[]> = {};
          const sent: Record<string, unknown[]> = {};
          for (const [table, requests] of Object.entries(input.RequestItems)) {
            const keep = Math.ceil(requests.length / 2);
            sent[table] = requests.slice(0, keep);
            if (requests.length > keep) held[table] = requests.slice(keep);
          }
          const heldCount = Object.values(held).reduce((n, r) => n + r.length, 0);
          if (heldCount > 0) {
            counters.unprocessedCalls++;
            counters.unprocessedItems += heldCount;
            const result = (await next({ ...args, input: { ...input, RequestItems: sent } })) as AnyOutput;
            result.output.UnprocessedItems = { ...(result.output.UnprocessedItems ?? {}), ...held };
            return result as never;
          }
        }
      }
      return next(args);
    },
    { step: "serialize", priority: "high", name: "ferryTestFaults" },
  );
  return counters;
}

/** True when a call's input names one of `tables` (TableName, or a key of RequestItems). */
function touchesTables(input: unknown, tables: string[]): boolean {
  const i = input as {
    TableName?: string;
    RequestItems?: Record<string, unknown>;
    TransactItems?: Record<string, { TableName?: string }>[];
    Statements?: { Statement?: string }[];
  };
  if (i.TableName !== undefined && tables.includes(i.TableName)) return true;
  if (Object.keys(i.RequestItems ?? {}).some((t) => tables.includes(t))) return true;
  // TransactWriteItems names a table per action, PartiQL inside each statement.
  if ((i.TransactItems ?? []).some((t) => Object.values(t).some((action) => action?.TableName !== undefined && tables.includes(action.TableName)))) return true;
  return (i.Statements ?? []).some((s) => tables.some((t) => s.Statement?.includes(`"${t}"`)));
}
