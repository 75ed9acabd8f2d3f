// Synthesizes the SST app offline, the way `sst build` would, for stack assertions.
import { Template } from "aws-cdk-lib/assertions";
import { initProject } from "sst/project.js";
import { App, getStack } from "sst/constructs";
import type { FunctionalStack } from "sst/constructs/FunctionalStack.js";
import config from "../../sst.config.ts";

/** Builds an SST App in deploy mode for `stage`, adds `stacks` and finishes it. */
export async function synth(stage: string, stacks: FunctionalStack<unknown>[]): Promise<(stack: FunctionalStack<unknown>) => Template> {
  const app = await newApp(stage);
  for (const stack of stacks) app.stack(stack);
  await app.finish();
  return (stack) => Template.fromStack(getStack(stack));
}

/** A finding attached to a construct at synth time (cdk-nag reports through these). */
export interface SynthMessage {
  level: "info" | "warning" | "error";
  /** Construct path, e.g. /prod-ferry-Stream/DeadLetters0001.../Resource. */
  path: string;
  text: string;
}

/** One synthesized app: templates and synth messages (cdk-nag findings) per stack. */
export interface SynthesizedApp {
  app: App;
  template(stack: FunctionalStack<unknown>): Template;
  messages(stack: FunctionalStack<unknown>): SynthMessage[];
}

/**
 * Synthesizes the whole app exactly as sst.config.ts defines it (stacks, default function
 * props, the cdk-nag aspect), once: SST's aspects refuse a second synthesis of the same app,
 * and every synthesis bundles each function with esbuild. `env` is applied to process.env
 * first (stage config such as FERRY_JWT_ISSUER). `bundle: false` marks every stack inactive,
 * SST's way of giving each function placeholder code instead of an esbuild bundle: the same
 * resources, IAM and cdk-nag findings in a fraction of the time, for tests of stage config.
 */
export async function synthProject(stage: string, env: Record<string, string> = {}, options: { bundle?: boolean } = {}): Promise<SynthesizedApp> {
  Object.assign(process.env, env);
  const app = await newApp(stage, options.bundle === false ? () => false : undefined);
  await config.stacks(app);
  await app.finish();
  const assembly = app.synth();
  const artifact = (stack: FunctionalStack<unknown>) => assembly.getStackArtifact(getStack(stack).artifactId);
  const templates = new Map<FunctionalStack<unknown>, Template>();
  return {
    app,
    template(stack) {
      let template = templates.get(stack);
      if (!template) {
        template = Template.fromJSON(artifact(stack).template);
        templates.set(stack, template);
      }
      return template;
    },
    messages: (stack) => artifact(stack).messages.map((m) => ({ level: m.level as SynthMessage["level"], path: m.id, text: String(m.entry.data) })),
  };
}

async function newApp(stage: string, isActiveStack?: (stackName: string) => boolean): Promise<App> {
  process.env.SST_TELEMETRY_DISABLED = "1";
  await initProject({ stage });
  return new App({ mode: "deploy", stage, name: "ferry", region: "us-east-1", account: "123456789012", isActiveStack });
}
