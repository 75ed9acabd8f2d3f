// Step events on a stage, without AWS: the orchestrator runs real transitions on DynamoDB
// Local and publishes them with an EventBridge client whose PutEvents is answered at the SDK
// middleware. Checks one entry per transition (Source, DetailType, EventBusName, Detail = the
// `--events` JSON line), batches of at most 10, the retry of entries PutEvents reports failed,
// and that a bus that never takes an event leaves the step completed with a warning. The CLI
// part reads the stage's outputs from a temp outputs file (FERRY_SST_OUTPUTS).
import { writeFileSync } from "node:fs";
import { EventBridgeClient, ResourceNotFoundException } from "@aws-sdk/client-eventbridge";
import { resolveRegion } from "@ferry/core";
import { MAX_PUT_EVENTS_ENTRIES, STEP_EVENT_DETAIL_TYPE, STEP_EVENT_SOURCE, eventBridgePublisher } from "@ferry/core/lifecycle/event-bridge";
import type { StepEvent } from "@ferry/core/lifecycle/events";
import { moveStep, rollbackStep } from "@ferry/core/lifecycle/lifecycle";
import { GuardRefusedError } from "@ferry/core/lifecycle/guards";
import { readMigrationState } from "@ferry/core/control/migration-state";
import { describe, expect, it } from "vitest";
import { stageCli } from "../support/cli.ts";
import { eventClients } from "../../packages/cli/src/commands/open-migration.ts";
import { addCommand } from "../../packages/cli/src/commands/add.ts";
import { moveCommand } from "../../packages/cli/src/commands/move.ts";
import { removeCommand } from "../../packages/cli/src/commands/remove.ts";
import { dropTable, freshExampleTable } from "../support/dynamo.ts";
import { clients, m1, markAdded, seededTable } from "../support/lifecycle.ts";
import { type InterceptedCall, interceptCommands } from "../support/sdk-intercept.ts";

const BUS = "dev-ferry-steps";
const FAST = { baseMs: 1, maxMs: 5, maxAttempts: 4 };

type Entry = { Source: string; DetailType: string; Detail: string; EventBusName: string; Resources?: string[]; Time?: Date };
const entriesOf = (calls: InterceptedCall[]) => calls.flatMap((c) => c.input.Entries as Entry[]);

/** An EventBridge client whose PutEvents `answer` decides (default: every entry accepted). */
function fakeEventBridge(answer?: (entries: Entry[], call: number) => unknown) {
  const client = new EventBridgeClient({ region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
  let n = 0;
  const calls = interceptCommands(client, {
    PutEventsCommand: (input) => {
      const entries = input.Entries as Entry[];
      return answer ? answer(entries, ++n) : { FailedEntryCount: 0, Entries: entries.map((_, i) => ({ EventId: `id-${n}-${i}` })) };
    },
  });
  return { client, calls };
}

describe("EventBridge publisher on real transitions", () => {
  it("publishes one entry per transition, with ferry's source, detail-type, bus and the StepEvent as detail", async () => {
    const s = await seededTable(20, "evbus");
    const bus = fakeEventBridge();
    const publisher = eventBridgePublisher({ client: bus.client, eventBusName: BUS, resources: ["arn:aws:dynamodb:us-east-1:1:table/T"] });
    const ctx = s.ctx(m1, { listeners: [(e) => s.events.push(e), publisher.listener] });
    await markAdded(ctx);

    await moveStep(ctx, { to: "v1" });
    await rollbackStep(ctx);
    await publisher.flush();

    const entries = entriesOf(bus.calls);
    expect(s.events.length).toBeGreaterThanOrEqual(5);
    expect(entries.map((e) => JSON.parse(e.Detail))).toEqual(s.events);
    for (const [i, e] of entries.entries()) {
      expect(e).toMatchObject({
        Source: STEP_EVENT_SOURCE,
        DetailType: STEP_EVENT_DETAIL_TYPE,
        EventBusName: BUS,
        Resources: ["arn:aws:dynamodb:us-east-1:1:table/T"],
      });
      expect(e.Time?.toISOString()).toBe(s.events[i]!.at);
    }
    expect(s.events.map((e) => `${e.step}:${e.event}`)).toEqual(expect.arrayContaining(["move:start", "rollback:start", "rollback:complete"]));
    expect(bus.calls.every((c) => c.command === "PutEventsCommand" && (c.input.Entries as Entry[]).length <= MAX_PUT_EVENTS_ENTRIES)).toBe(true);
    expect(publisher.stats).toEqual({ published: entries.length, failed: 0 });
  });

  it("sends events emitted together in batches of at most 10", async () => {
    const bus = fakeEventBridge();
    const publisher = eventBridgePublisher({ client: bus.client, eventBusName: BUS });
    const event = (i: number): StepEvent => ({
      type: "ferry.step",
      migrationId: m1.id,
      step: "convert",
      event: "start",
      at: new Date(i).toISOString(),
      actor: `a${i}`,
    });
    for (let i = 0; i < 23; i++) publisher.listener(event(i));
    await publisher.flush();
    expect(bus.calls.map((c) => (c.input.Entries as Entry[]).length)).toEqual([10, 10, 3]);
    expect(entriesOf(bus.calls).map((e) => JSON.parse(e.Detail).actor)).toEqual(Array.from({ length: 23 }, (_, i) => `a${i}`));
  });

  it("retries only the entries PutEvents reports failed (FailedEntryCount 1)", async () => {
    const s = await seededTable(20, "evretry");
    const bus = fakeEventBridge((entries, call) => ({
      // The first call fails the last entry, as EventBridge does under throttling.
      FailedEntryCount: call === 1 ? 1 : 0,
      Entries: entries.map((_, i) =>
        call === 1 && i === entries.length - 1 ? { ErrorCode: "ThrottlingException", ErrorMessage: "Rate exceeded" } : { EventId: `id-${call}-${i}` },
      ),
    }));
    const warnings: string[] = [];
    const publisher = eventBridgePublisher({ client: bus.client, eventBusName: BUS, backoff: FAST, warn: (m) => warnings.push(m) });
    // Another migration's event is emitted in the same tick as move's start, so one PutEvents carries both.
    const sibling = (e: StepEvent) => e.event === "start" && publisher.listener({ ...e, migrationId: "0002_split-workflow-tasks" });
    const record = (e: StepEvent) => {
      s.events.push(e);
      sibling(e);
    };
    const ctx = s.ctx(m1, { listeners: [record, publisher.listener] });
    await markAdded(ctx);
    await moveStep(ctx, { to: "v1" });
    await publisher.flush();

    const [first, second] = bus.calls.map((c) => c.input.Entries as Entry[]);
    expect(first!.map((e) => JSON.parse(e.Detail).migrationId)).toEqual(["0002_split-workflow-tasks", m1.id]);
    expect(second).toEqual([first![1]]); // only the failed entry, sent again
    expect(JSON.parse(second![0]!.Detail)).toEqual(s.events[0]);
    expect(entriesOf(bus.calls.slice(2)).map((e) => JSON.parse(e.Detail))).toEqual(s.events.slice(1));
    expect(publisher.stats).toEqual({ published: 1 + s.events.length, failed: 0 });
    expect(warnings).toEqual([]);
  });

  it("a bus that never takes an event leaves the step completed, with a warning naming the events", async () => {
    const s = await seededTable(20, "evfail");
    const always = fakeEventBridge((entries) => ({
      FailedEntryCount: entries.length,
      Entries: entries.map(() => ({ ErrorCode: "InternalFailure", ErrorMessage: "boom" })),
    }));
    const warnings: string[] = [];
    const publisher = eventBridgePublisher({ client: always.client, eventBusName: BUS, backoff: FAST, warn: (m) => warnings.push(m) });
    const ctx = s.ctx(m1, { listeners: [(e) => s.events.push(e), publisher.listener] });
    await markAdded(ctx);

    const outcome = await moveStep(ctx, { to: "v1" });
    await publisher.flush();

    expect(outcome.state.history.at(-1)).toMatchObject({ step: "move", actor: "ana" });
    const state = await readMigrationState({ doc: ctx.clients.doc, controlTable: ctx.controlTable, migrationId: m1.id });
    expect(state?.step).toBe("move");
    expect(always.calls).toHaveLength(FAST.maxAttempts * Math.ceil(s.events.length / 10)); // every attempt, then given up
    expect(publisher.stats).toEqual({ published: 0, failed: s.events.length });
    expect(warnings.join("\n")).toMatch(
      new RegExp(
        `could not publish ${s.events.length} step event\\(s\\) to the EventBridge bus ${BUS} \\(.*InternalFailure.*move start.*steps themselves are unaffected`,
      ),
    );

    // A client fault (no such bus) is not retried: one call, one warning.
    const missing = fakeEventBridge(() => {
      throw new ResourceNotFoundException({ message: `Event bus ${BUS} does not exist.`, $metadata: {} });
    });
    const lost: string[] = [];
    const noBus = eventBridgePublisher({ client: missing.client, eventBusName: BUS, backoff: FAST, warn: (m) => lost.push(m) });
    await expect(moveStep(s.ctx(m1, { listeners: [noBus.listener] }), { to: "v1" })).resolves.toMatchObject({ state: { step: "move" } });
    await noBus.flush();
    expect(missing.calls).toHaveLength(1);
    expect(lost).toEqual([expect.stringMatching(/ResourceNotFoundException: Event bus dev-ferry-steps does not exist/)]);
  });
});

describe("ferry move/remove --stage publish to the stage's bus", () => {
  const original = eventClients.eventBridge;
  const { stdout, stderr, ferry } = stageCli(
    "ferry-events",
    () => [addCommand(), moveCommand(), removeCommand()],
    () => {
      eventClients.eventBridge = original;
    },
  );

  it("every transition, refused ones included, reaches the bus named by the stage's EventBusName output, as --events prints it", async () => {
    const s = await seededTable(20, "evcli");
    const tableArn = `arn:aws:dynamodb:${resolveRegion()}:000000000000:table/${s.table}`;
    const storage = { TableName: s.table, TableArn: tableArn, ControlTableName: s.controlTable };
    writeFileSync(
      process.env.FERRY_SST_OUTPUTS as string,
      JSON.stringify({ "dev-ferry-Storage": { ...storage, EventBusName: BUS, EventBusArn: `arn:aws:events:us-east-1:0:event-bus/${BUS}` } }),
    );
    await markAdded(s.ctx(m1));
    const bus = fakeEventBridge();
    const regions: string[] = [];
    eventClients.eventBridge = (region) => {
      regions.push(region);
      return bus.client;
    };

    await ferry("move", "0001", "--to", "v1", "--stage", "dev", "--actor", "bo", "--events", "--json");
    await expect(ferry("remove", "0001", "--confirm", "--stage", "dev", "--actor", "bo", "--events")).rejects.toBeInstanceOf(GuardRefusedError);

    const printed = stdout
      .join("")
      .split("\n")
      .filter((l) => l.startsWith('{"type":"ferry.step"'));
    const entries = entriesOf(bus.calls);
    expect(printed.length).toBeGreaterThanOrEqual(2);
    expect(entries.map((e) => e.Detail)).toEqual(printed);
    expect(entries.map((e) => JSON.parse(e.Detail))).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ step: "move", event: "start", actor: "bo" }),
        expect.objectContaining({ step: "remove", event: "refused" }),
      ]),
    );
    for (const e of entries) expect(e).toMatchObject({ Source: "ferry", DetailType: "ferry.step", EventBusName: BUS, Resources: [tableArn] });
    expect(regions).toEqual([resolveRegion(), resolveRegion()]);

    // A stage deployed before the bus existed: the step runs, a warning says events are not published.
    writeFileSync(process.env.FERRY_SST_OUTPUTS as string, JSON.stringify({ "dev-ferry-Storage": storage }));
    const before = bus.calls.length;
    await ferry("move", "0001", "--to", "v1", "--stage", "dev", "--actor", "bo");
    expect(bus.calls).toHaveLength(before);
    expect(stderr.join("")).toMatch(/stage dev has no EventBusName output .*step events are not published.*npx sst deploy --stage dev/);
  });

  it("ferry add --stage publishes add's start and complete to the stage's bus", async () => {
    const table = await freshExampleTable(clients, "evadd"); // add needs the table's stream
    try {
      const arn = `arn:aws:dynamodb:${resolveRegion()}:000000000000:table/${table}`;
      writeFileSync(
        process.env.FERRY_SST_OUTPUTS as string,
        JSON.stringify({ "dev-ferry-Storage": { TableName: table, TableArn: arn, ControlTableName: `${table}.ferry`, EventBusName: BUS } }),
      );
      const bus = fakeEventBridge();
      eventClients.eventBridge = () => bus.client;

      await ferry("add", "0001", "--stage", "dev", "--actor", "cy", "--json");

      const details = entriesOf(bus.calls).map((e) => JSON.parse(e.Detail) as StepEvent);
      expect(details.map((e) => `${e.step}:${e.event}:${e.actor}`)).toEqual(["add:start:cy", "add:complete:cy"]);
      expect(entriesOf(bus.calls).every((e) => e.EventBusName === BUS && e.Source === "ferry")).toBe(true);
    } finally {
      await dropTable(clients, table);
      await dropTable(clients, `${table}.ferry`);
    }
  });
});
