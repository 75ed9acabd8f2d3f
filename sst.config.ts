// The SST v2 app: Storage (tables), Stream (dual-write consumers), Backfill (state machine),
// Api (HTTP API). cdk-nag's AwsSolutions checks run on every synth; the stack tests
// (test/stacks/) synthesize exactly this function and require zero unsuppressed findings.
import type { SSTConfig } from "sst";
import { Api } from "./stacks/Api.ts";
import { Backfill } from "./stacks/Backfill.ts";
import { applyNagChecks } from "./stacks/nag.ts";
import { Storage } from "./stacks/Storage.ts";
import { Stream } from "./stacks/Stream.ts";

export default {
  config(input) {
    return { name: "ferry", region: input.region ?? "us-east-1" };
  },
  stacks(app) {
    app.setDefaultFunctionProps({ runtime: "nodejs22.x", architecture: "arm_64" });
    app.stack(Storage).stack(Stream).stack(Backfill).stack(Api);
    applyNagChecks(app);
  },
} satisfies SSTConfig;
