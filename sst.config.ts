import type { SSTConfig } from "sst";
import { Backfill } from "./stacks/Backfill.ts";
import { Storage } from "./stacks/Storage.ts";

export default {
  config(input) {
    return { name: "ferry", region: input.region ?? "us-east-1" };
  },
  stacks(app) {
    app.setDefaultFunctionProps({ runtime: "nodejs20.x", architecture: "arm_64" });
    app.stack(Storage).stack(Backfill);
  },
} satisfies SSTConfig;
