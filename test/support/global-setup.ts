// Starts DynamoDB Local for the test run, compiles the CLI the tests' `ferry` processes run
// (test/support/compiled-cli.ts) meanwhile, and stops and removes them afterwards.
// One engine per test run (the project's rule: a fresh table per test on one engine).
// FERRY_TEST_ENGINES=N starts one per worker instead, for measuring only: every write to a
// stream-enabled table costs DynamoDB Local more as the stream records of all its tables pile
// up (on 2 cores: 1,000 writes took ~4-5 s of the engine's CPU on a fresh engine, ~9-10 s once
// 5,000 had gone before; ~0.6 s without a stream).
import { type DynamoDBLocal, startDynamoDBLocal } from "@ferry/core";
import type { TestProject } from "vitest/node";
import { compileCli, removeCompiledCli } from "./compiled-cli.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** One endpoint per engine; test/support/dynamo.ts's endpoint() picks the worker's. */
    dynamoEndpoints: string[];
    /** The first engine (what a test reading it directly got before): use endpoint() instead. */
    dynamoEndpoint: string;
    /** Folder of the compiled CLI. */
    ferryCli: string;
  }
}

export default async function setup(project: TestProject) {
  const count = Math.max(1, Math.min(Number(process.env.FERRY_TEST_ENGINES ?? 1), project.config.maxWorkers ?? 1));
  // Three JVMs starting at once on a loaded machine can take a while: the timeout guards a hang.
  const [cli, ...started] = await Promise.allSettled([
    compileCli(),
    ...Array.from({ length: count }, () => startDynamoDBLocal({ heap: "1g", startTimeoutMs: 180_000 })),
  ]);
  const engines = started.flatMap((s) => (s.status === "fulfilled" ? [s.value as DynamoDBLocal] : []));
  const teardown = async () => {
    if (cli?.status === "fulfilled") removeCompiledCli(cli.value as string);
    await Promise.all(engines.map((e) => e.stop()));
  };
  const failed = [cli, ...started].find((s) => s?.status === "rejected") as PromiseRejectedResult | undefined;
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
  return teardown;
}
