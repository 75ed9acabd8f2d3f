import { defineConfig } from "vitest/config";
import SlowestFirstSequencer from "./test/support/sequencer.ts";
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // One DynamoDB Local for the whole run; each test makes its own table.
    globalSetup: ["test/support/global-setup.ts"],
    // Most tests wait (on timers, child processes and the engine), not compute: several files
    // at once even on 2 cores, where vitest would run one at a time (CPUs - 1). Each file runs in
    // its own process, with its own tables. VITEST_MAX_WORKERS overrides it.
    maxWorkers: 4,
    // Slowest files first, so no long one starts last (a clean clone has no duration cache).
    sequence: { sequencer: SlowestFirstSequencer },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    env: {
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      SST_TELEMETRY_DISABLED: "1",
      POWERTOOLS_LOG_LEVEL: "SILENT",
    },
  },
});
