import { defineConfig } from "vitest/config";
import SlowestFirstSequencer from "./test/support/sequencer.ts";
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // One DynamoDB Local for the whole run; each test makes its own table.
    globalSetup: ["test/support/global-setup.ts"],
    // FERRY_TEST_PROFILE=<file>: a JSON line per test file with its wall and CPU times.
    setupFiles: process.env.FERRY_TEST_PROFILE ? ["test/support/profile-setup.ts"] : [],
    // Most tests wait (on timers, child processes and the engine), not compute: run one file at a
    // time (vitest's default on 2 CPUs: CPUs - 1) and the suite keeps the cores less than half
    // busy. Three at once fill them without stretching process and engine start-ups past their
    // own timeouts (four did, on a loaded machine). Each file runs in its own process, with its
    // own tables. VITEST_MAX_WORKERS overrides it.
    maxWorkers: 3,
    // Slowest files first, so no long one starts last (a clean clone has no duration cache).
    sequence: { sequencer: SlowestFirstSequencer },
    // With several files at once on 2 cores a test can take twice as long as alone: the timeout
    // guards against hangs, not speed (tests that assert a duration do so themselves).
    testTimeout: 120_000,
    hookTimeout: 120_000,
    env: {
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      SST_TELEMETRY_DISABLED: "1",
      POWERTOOLS_LOG_LEVEL: "SILENT",
    },
  },
});
