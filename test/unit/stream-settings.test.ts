// The mapping settings come from the migration's options, and the filter behaves as Lambda's.
import { defineMigration } from "@ferry/core";
import { WORKFLOWS_TABLE } from "@ferry/example-workflows";
import { UnsupportedFilterError, compileFilterCriteria, matchesPattern } from "@ferry/core/local/stream-filter";
import { sourceFilterPattern, streamSettings } from "@ferry/core/dualwrite/stream-settings";
import { describe, expect, it } from "vitest";
import { z } from "zod";

const migration = defineMigration({
  id: "0009_settings-probe",
  description: "probe",
  table: "Workflows",
  keys: { partitionKey: { name: "PK", type: "S" }, sortKey: { name: "SK", type: "S" } },
  source: { skPrefix: "WF#", skPattern: /^WF#[^#]+$/ },
  schema: z.object({ name: z.string() }),
  derive: () => [],
  options: { streamBatchSize: 25, streamMaxRetries: 7, streamMaxRecordAgeSeconds: 600 },
});

const record = (sk: string, eventName = "INSERT") => ({
  eventName,
  eventSource: "aws:dynamodb",
  dynamodb: { Keys: { PK: { S: "tenant-1" }, SK: { S: sk } } },
});

describe("streamSettings", () => {
  it("maps the migration's stream options onto the event source mapping", () => {
    const settings = streamSettings(migration);

    expect(settings).toEqual({
      batchSize: 25,
      bisectBatchOnFunctionError: true,
      maximumRetryAttempts: 7,
      maximumRecordAgeInSeconds: 600,
      functionResponseTypes: ["ReportBatchItemFailures"],
      startingPosition: "TRIM_HORIZON",
      filterCriteria: { filters: [{ pattern: '{"dynamodb":{"Keys":{"SK":{"S":[{"prefix":"WF#"}]}}}}' }] },
    });
  });
});

describe("filter criteria", () => {
  const filter = compileFilterCriteria(streamSettings(migration).filterCriteria);

  it("passes every event type of source keys, including REMOVE", () => {
    expect(filter(record("WF#1", "INSERT"))).toBe(true);
    expect(filter(record("WF#1", "MODIFY"))).toBe(true);
    expect(filter(record("WF#1", "REMOVE"))).toBe(true);
  });

  it("drops keys without the prefix; the prefix alone cannot express skPattern", () => {
    expect(filter(record("CTX#a#WF#1"))).toBe(false);
    expect(filter(record("wf#1"))).toBe(false);
    expect(filter({ dynamodb: { Keys: { PK: { S: "x" } } } })).toBe(false);
    // Lambda lets this derived key through too: the handler re-checks isSourceKey.
    expect(filter(record("WF#1#TASK#2"))).toBe(true);
  });

  it("ORs filters and ANDs fields, with exists, suffix and anything-but rules", () => {
    const either = compileFilterCriteria({
      filters: [
        { pattern: JSON.stringify(sourceFilterPattern(WORKFLOWS_TABLE, { skPrefix: "CTX#" })) },
        { pattern: JSON.stringify({ eventName: ["REMOVE"], dynamodb: { Keys: { SK: { S: [{ suffix: "#9" }] } } } }) },
      ],
    });
    expect(either(record("CTX#1"))).toBe(true);
    expect(either(record("WF#9", "REMOVE"))).toBe(true);
    expect(either(record("WF#9", "INSERT"))).toBe(false);
    expect(matchesPattern({ dynamodb: { NewImage: [{ exists: false }] } }, record("WF#1"))).toBe(true);
    expect(matchesPattern({ eventName: [{ "anything-but": ["REMOVE"] }] }, record("WF#1", "REMOVE"))).toBe(false);
    expect(compileFilterCriteria(undefined)(record("anything"))).toBe(true);
  });

  it("refuses operators it cannot evaluate like Lambda", () => {
    const numeric = { filters: [{ pattern: '{"dynamodb":{"SizeBytes":[{"numeric":[">",10]}]}}' }] };
    expect(() => compileFilterCriteria(numeric)).toThrow(UnsupportedFilterError);
    expect(() => compileFilterCriteria({ filters: [{ pattern: "{not json" }] })).toThrow(/not JSON/);
  });
});
