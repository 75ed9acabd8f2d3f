import { backoffDelay, resolveDynamoEndpoint } from "@ferry/core";
import { describe, expect, it } from "vitest";

describe("backoff", () => {
  it("grows exponentially up to the cap, with full jitter", () => {
    const opts = { baseMs: 100, maxMs: 1_000, maxAttempts: 10 };
    expect(backoffDelay(1, opts, () => 0.999)).toBe(99);
    expect(backoffDelay(3, opts, () => 0.999)).toBe(399);
    expect(backoffDelay(9, opts, () => 0.999)).toBe(999);
    expect(backoffDelay(3, opts, () => 0)).toBe(0);
  });
});

describe("endpoint resolution", () => {
  it("prefers --endpoint, then AWS_ENDPOINT_URL_DYNAMODB, then AWS_ENDPOINT_URL", () => {
    const env = { AWS_ENDPOINT_URL_DYNAMODB: "http://ddb:1", AWS_ENDPOINT_URL: "http://all:2" };
    expect(resolveDynamoEndpoint("http://flag:3", env)).toBe("http://flag:3");
    expect(resolveDynamoEndpoint(undefined, env)).toBe("http://ddb:1");
    expect(resolveDynamoEndpoint(undefined, { AWS_ENDPOINT_URL: "http://all:2" })).toBe("http://all:2");
    expect(resolveDynamoEndpoint(undefined, {})).toBeUndefined();
  });
});
