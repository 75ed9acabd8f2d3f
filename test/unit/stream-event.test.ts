// Streams API records become the exact records Lambda delivers.
import { toLambdaRecord, compareSequence } from "@ferry/core/streams/lambda-event";
import { describe, expect, it } from "vitest";
import { ScriptedStreamsClient, loadScript } from "../fixtures/stream-responses/scripted-stream.ts";

describe("toLambdaRecord", () => {
  it("keeps the Lambda field set, times in seconds, and the event source ARN", () => {
    const client = new ScriptedStreamsClient(loadScript("lineage"));
    const sdk = client.sdkRecords("G")[1];
    if (!sdk) throw new Error("fixture has no records");

    const record = toLambdaRecord(sdk, client.script.streamArn, "eu-west-1");

    expect(Object.keys(record).sort()).toEqual(["awsRegion", "dynamodb", "eventID", "eventName", "eventSource", "eventSourceARN", "eventVersion"]);
    expect(record).toMatchObject({ eventName: "MODIFY", eventVersion: "1.1", eventSource: "aws:dynamodb", awsRegion: "us-east-1" });
    expect(record.eventSourceARN).toBe(client.script.streamArn);
    expect(record.dynamodb?.ApproximateCreationDateTime).toBe((sdk.dynamodb?.ApproximateCreationDateTime?.getTime() ?? 0) / 1000);
    expect(Number.isInteger(record.dynamodb?.ApproximateCreationDateTime)).toBe(true);
    expect(Object.keys(record.dynamodb ?? {}).sort()).toEqual([
      "ApproximateCreationDateTime",
      "Keys",
      "NewImage",
      "OldImage",
      "SequenceNumber",
      "SizeBytes",
      "StreamViewType",
    ]);
  });

  it("encodes binary values as base64 like the Lambda JSON event", () => {
    const record = toLambdaRecord(
      {
        eventName: "INSERT",
        dynamodb: {
          Keys: { PK: { S: "t" }, SK: { S: "WF#1" } },
          NewImage: { blob: { B: new Uint8Array([1, 2, 3]) }, set: { BS: [new Uint8Array([255])] }, nested: { M: { b: { B: new Uint8Array([0]) } } } },
          SequenceNumber: "1",
        },
      },
      "arn:stream",
      "eu-west-1",
    );

    expect(record.dynamodb?.NewImage).toEqual({ blob: { B: "AQID" }, set: { BS: ["/w=="] }, nested: { M: { b: { B: "AA==" } } } });
    expect(record.awsRegion).toBe("eu-west-1");
  });

  it("compares sequence numbers of different lengths as numbers", () => {
    expect(compareSequence("10000000000000000003", "200000000000000000004")).toBe(-1);
    expect(compareSequence("9", "10")).toBe(-1);
    expect(compareSequence("42", "42")).toBe(0);
  });
});
