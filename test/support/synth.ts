// Synthesizes the SST app offline, the way `sst build` would, for stack assertions.
import { Template } from "aws-cdk-lib/assertions";
import { initProject } from "sst/project.js";
import { App, getStack } from "sst/constructs";
import type { FunctionalStack } from "sst/constructs/FunctionalStack.js";

/** Builds an SST App in deploy mode for `stage`, adds `stacks` and finishes it. */
export async function synth(stage: string, stacks: FunctionalStack<unknown>[]): Promise<(stack: FunctionalStack<unknown>) => Template> {
  process.env.SST_TELEMETRY_DISABLED = "1";
  await initProject({ stage });
  const app = new App({ mode: "deploy", stage, name: "ferry", region: "us-east-1", account: "123456789012" });
  for (const stack of stacks) app.stack(stack);
  await app.finish();
  return (stack) => Template.fromStack(getStack(stack));
}
