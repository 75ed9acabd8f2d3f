// Starts one DynamoDB Local for the whole test run and stops it afterwards, and compiles the CLI
// the tests' `ferry` processes run (test/support/compiled-cli.ts) meanwhile.
import { startDynamoDBLocal } from "@ferry/core";
import type { TestProject } from "vitest/node";
import { compileCli, removeCompiledCli } from "./compiled-cli.ts";

declare module "vitest" {
  export interface ProvidedContext {
    dynamoEndpoint: string;
    /** Folder of the compiled CLI. */
    ferryCli: string;
  }
}

export default async function setup(project: TestProject) {
  const [engine, cli] = await Promise.allSettled([startDynamoDBLocal({ heap: "1g" }), compileCli()]).then(async ([e, c]) => {
    if (e.status === "fulfilled" && c.status === "fulfilled") return [e.value, c.value] as const;
    if (e.status === "fulfilled") await e.value.stop();
    if (c.status === "fulfilled") removeCompiledCli(c.value);
    throw e.status === "rejected" ? e.reason : (c as PromiseRejectedResult).reason;
  });
  project.provide("dynamoEndpoint", engine.endpoint);
  project.provide("ferryCli", cli);
  return async () => {
    removeCompiledCli(cli);
    await engine.stop();
  };
}
