// Starts one DynamoDB Local for the whole test run and stops it afterwards.
import { startDynamoDBLocal } from "@ferry/core";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}

export default async function setup(project: TestProject) {
  const engine = await startDynamoDBLocal({ heap: "1g" });
  project.provide("dynamoEndpoint", engine.endpoint);
  return async () => {
    await engine.stop();
  };
}
