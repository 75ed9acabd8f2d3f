// `npm start`'s demo at CI size: the whole walk on its own engine, exit 0, its own invariant, no process left behind.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ferry = join(import.meta.dirname, "../../packages/cli/bin/ferry.mjs");

describe("ferry demo (npm start) at CI size", () => {
  it("walks design to remove beside live writes and ends with the invariant clean", () => {
    // Act: small sizes through flags, JSON result.
    const out = spawnSync(
      process.execPath,
      [
        ferry,
        "demo",
        "--large-workflows",
        "400",
        "--small-tenants",
        "2",
        "--small-workflows",
        "40",
        "--item-kb",
        "3",
        "--latency-contexts",
        "4",
        "--v1-idle-seconds",
        "1",
        "--json",
      ],
      { encoding: "utf8", env: { ...process.env, AWS_ENDPOINT_URL_DYNAMODB: "" }, timeout: 240_000 },
    );

    // Assert
    expect(out.status, out.stderr).toBe(0);
    const result = JSON.parse(out.stdout);
    expect(result.final).toMatchObject({ clean: true, missing: 0, orphans: 0, different: 0 });
    expect(result.final.writes).toBeGreaterThan(50);
    expect(result.verify.clean).toBe(true);
    expect(result.convert.failed).toBe(0);
    expect(result.convert.converted).toBeGreaterThan(400);
    expect(result.shadow.compared).toBeGreaterThan(0);
    // Disagreements met while a change was in the stream resolve on re-check: no divergence.
    expect(result.shadow).toMatchObject({ persistent: 0, unsettled: 0, agreementAfterRecheck: 1 });
    expect(result.v1AfterRemove).toBe(410);
    expect(result.latency.v1.requests).toBe(4);
    // The engine, dual-write and server are gone: the watchdog owns java, and this process exited.
    const port = new URL(result.endpoint).port;
    const left = spawnSync("pgrep", ["-f", `DynamoDBLocal.jar.*-port ${port}`], { encoding: "utf8" });
    expect(left.stdout.trim()).toBe("");
  }, 300_000);
});
