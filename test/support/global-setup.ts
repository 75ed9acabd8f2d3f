// Starts DynamoDB Local for the test run, compiles the CLI the tests' `ferry` processes run
// (test/support/compiled-cli.ts) meanwhile, and stops and removes them afterwards.
// One engine per test run (the project's rule: a fresh table per test on one engine).
// FERRY_TEST_ENGINES=N starts one per worker instead, for measuring only: every write to a
// stream-enabled table costs DynamoDB Local more as the stream records of all its tables pile
// up (on 2 cores: 1,000 writes took ~4-5 s of the engine's CPU on a fresh engine, ~9-10 s once
// 5,000 had gone before; ~0.6 s without a stream).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { type DynamoDBLocal, startDynamoDBLocal } from "@ferry/core";
import type { TestProject } from "vitest/node";
import { compileCli, removeCompiledCli } from "./compiled-cli.ts";
import { type StreamPool, fillStreamPool } from "./stream-pool.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** One endpoint per engine; test/support/dynamo.ts's endpoint() picks the worker's. */
    dynamoEndpoints: string[];
    /** The first engine (what a test reading it directly got before): use endpoint() instead. */
    dynamoEndpoint: string;
    /** Folder of the compiled CLI. */
    ferryCli: string;
    /** Stream-enabled tables made as the run started, one per test (test/support/stream-pool.ts). */
    streamPool: StreamPool;
  }
}

export default async function setup(project: TestProject) {
  const count = Math.max(1, Math.min(Number(process.env.FERRY_TEST_ENGINES ?? 1), project.config.maxWorkers ?? 1));
  // Three JVMs starting at once on a loaded machine can take a while: the timeout guards a hang.
  const poolDir = mkdtempSync(join(tmpdir(), "ferry-stream-pool-"));
  const [cli, ...started] = await Promise.allSettled([
    compileCli(),
    ...Array.from({ length: count }, () => startDynamoDBLocal({ heap: "1g", startTimeoutMs: 180_000 })),
  ]);
  const engines = started.flatMap((s) => (s.status === "fulfilled" ? [s.value as DynamoDBLocal] : []));
  const teardown = async () => {
    if (cli?.status === "fulfilled") removeCompiledCli(cli.value as string);
    rmSync(poolDir, { recursive: true, force: true });
    await Promise.all(engines.map((e) => e.stop()));
  };
  // The pool is on the first engine (FERRY_TEST_ENGINES=N measures without it on the others).
  const pool = await (engines[0]
    ? fillStreamPool(
        new DynamoDBClient({ endpoint: engines[0].endpoint, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } }),
        poolDir,
      )
    : undefined
  )?.catch((err: unknown) => err as Error);
  const failed = [cli, ...started, ...(pool instanceof Error ? [{ status: "rejected", reason: pool }] : [])].find((s) => s?.status === "rejected") as
    | PromiseRejectedResult
    | undefined;
  if (failed) {
    await teardown();
    throw failed.reason;
  }
  project.provide(
    "dynamoEndpoints",
    engines.map((e) => e.endpoint),
  );
  project.provide("dynamoEndpoint", engines[0]?.endpoint as string);
  project.provide("ferryCli", (cli as PromiseFulfilledResult<string>).value);
  project.provide("streamPool", pool as StreamPool);
  return teardown;
}
