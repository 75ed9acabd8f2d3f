import { type DerivedRecord, type MigrationOptions, type MigrationSpec, OWNER_ATTRIBUTE, defineMigration, keyId, loadMigration } from "@ferry/core";
import { generateWorkflows, WORKFLOWS_TABLE } from "@ferry/example-workflows";
import { CheckFailedError, checkMigration, problemCategory } from "@ferry/core/design/check";
import { GENERATED_CASES, generatedCheckItems } from "@ferry/example-workflows/check-cases";
import { describe, expect, it } from "vitest";
import { z } from "zod";

const generated = () => [...generatedCheckItems()].map((g) => g.item);
const workflows = (options: Parameters<typeof generateWorkflows>[0]) =>
  [...generateWorkflows({ tenants: 1, itemKb: 1, ...options })] as unknown as (Record<string, unknown> & { PK: string; SK: string })[];
const keyOfItem = (item: { PK: string; SK: string }) => ({ PK: item.PK, SK: item.SK });

// What derive receives in these tests: the key plus whatever the test's schema lets through.
type Wf = { PK: string; SK: string; [field: string]: any };

interface TestSpec {
  schema?: z.ZodObject;
  derive?: (wf: Wf) => Record<string, unknown>[];
  options?: Partial<MigrationOptions>;
}

/** A migration on the example model (by default 0001's index), overriding what a test needs. */
function migration(spec: TestSpec) {
  return defineMigration({
    id: "0099_under-test",
    description: "a migration built by a test",
    table: "Workflows",
    keys: { partitionKey: { name: "PK", type: "S" }, sortKey: { name: "SK", type: "S" } },
    source: { skPrefix: "WF#", skPattern: /^WF#[^#]+$/ },
    schema: z.object({ contexts: z.array(z.object({ id: z.string() })) }),
    derive: (wf: Wf) => wf.contexts.map((c: { id: string }) => ({ PK: wf.PK, SK: `CTX#${c.id}#${wf.SK}` })),
    ...spec,
  } as unknown as MigrationSpec);
}

describe("checking the example migrations", () => {
  it("passes 0001 and 0002 on every generated case, with their record statistics", async () => {
    const contexts = checkMigration(await loadMigration("0001"), { generated: generated() });
    expect(contexts.ok).toBe(true);
    expect(contexts.checked.generated).toBe(GENERATED_CASES.reduce((n, c) => n + (c.options.tenants ?? 1) * (c.options.workflows ?? 0), 0));
    expect(contexts.records.perItemMax).toBe(100); // the "many contexts" case
    expect(contexts.records.itemsWithoutRecords).toBe(10); // the "no contexts" case
    const tasks = checkMigration(await loadMigration("0002"), { generated: generated() });
    expect(tasks.ok).toBe(true);
    expect(tasks.records.perItemMax).toBe(80); // the "many tasks" case
    expect(tasks.records.bytesMax).toBeGreaterThan(50_000); // tasks of the ~350 KB items
  });
});

describe("a migration with a bad derive", () => {
  it("is nondeterministic when it uses Math.random, reported with the item's key", () => {
    const items = workflows({ workflows: 5, contexts: 1, pool: 5, seed: 1 });
    const report = checkMigration(migration({ derive: (wf: Wf) => [{ PK: wf.PK, SK: `RND#${Math.random()}#${wf.SK}` }] }), { generated: items });
    expect(report.problems.nondeterministic.count).toBe(5);
    expect(report.problems.nondeterministic.examples[0]).toMatchObject({ origin: "generated", key: keyOfItem(items[0]!) });
    expect(report.problems.nondeterministic.examples[0]!.message).toMatch(
      /two derives of the same item differ: PK=.* SK="RND#0\.\d+#WF#.*" derived only the first time/,
    );
    expect(report.problems.readsOutsideSchema.count).toBe(0); // not double-reported
  });

  it("is nondeterministic when it keeps state between calls", () => {
    let calls = 0;
    const items = workflows({ workflows: 2, contexts: 1, pool: 2, seed: 2 });
    const report = checkMigration(migration({ derive: (wf: Wf) => [{ PK: wf.PK, SK: `N#${wf.SK}`, n: calls++ }] }), {
      generated: items,
    });
    expect(report.problems.nondeterministic.count).toBe(2);
    expect(report.problems.nondeterministic.examples[0]!.message).toMatch(/differs in n$/);
  });

  it("throws for some items: each reported once with its key and the error", () => {
    const items = [...workflows({ workflows: 3, contexts: 0, seed: 3 }), ...workflows({ workflows: 4, contexts: 2, pool: 4, seed: 4 })];
    const throwing = migration({
      derive: (wf: Wf) => {
        if (wf.contexts.length === 0) throw new RangeError("a workflow needs a context");
        return [{ PK: wf.PK, SK: `CTX#${wf.contexts[0]!.id}#${wf.SK}` }];
      },
    });
    const report = checkMigration(throwing, { generated: items });
    expect(report.problems.deriveThrew.count).toBe(3);
    expect(report.problems.deriveThrew.examples.map((e) => e.key)).toEqual(items.slice(0, 3).map(keyOfItem));
    expect(report.problems.deriveThrew.examples[0]!.message).toBe("RangeError: a workflow needs a context");
    expect(report.checked.generated).toBe(7);
    expect(report.records.items).toBe(4);
  });

  it("reads a field outside its schema through a loose object", () => {
    const items = workflows({ workflows: 3, contexts: 1, pool: 3, seed: 5 });
    const sneaky = migration({
      schema: z.looseObject({ contexts: z.array(z.object({ id: z.string() })) }),
      derive: (wf: Wf) => [{ PK: wf.PK, SK: `STATUS#${String(wf.status)}#${wf.SK}` }],
    });
    const report = checkMigration(sneaky, { generated: items });
    expect(report.problems.readsOutsideSchema.count).toBe(3);
    expect(report.problems.readsOutsideSchema.examples[0]!.key).toEqual(keyOfItem(items[0]!));
    expect(report.problems.readsOutsideSchema.examples[0]!.message).toMatch(
      /derive reads "status", not in the schema \(present in the item: status; derive sees undefined\)/,
    );
  });

  it("reads a field its strict schema drops: derive sees undefined, check names the field (issue 14 item 4)", () => {
    const items = workflows({ workflows: 3, contexts: 1, pool: 3, seed: 5 });
    const incomplete = migration({ derive: (wf: Wf) => [{ PK: wf.PK, SK: `CTX#x#${wf.SK}`, status: wf.status }] });
    const report = checkMigration(incomplete, { generated: items });
    expect(report.problems.readsOutsideSchema.count).toBe(3);
    expect(report.problems.readsOutsideSchema.examples[0]!.message).toMatch(
      /derive reads "status", not in the schema \(present in the item: status; derive sees undefined\): add it to the schema/,
    );
    expect(report.ok).toBe(false);
  });

  it("reads a nested field the schema strips: derive on the whole item disagrees", () => {
    const items = workflows({ workflows: 2, contexts: 1, pool: 2, seed: 6 });
    const nested = migration({
      derive: (wf: Wf) => wf.contexts.map((c: { id: string; name?: string }) => ({ PK: wf.PK, SK: `CTX#${c.id}#${wf.SK}`, name: c.name ?? "?" })),
    });
    const report = checkMigration(nested, { generated: items });
    expect(report.problems.readsOutsideSchema.count).toBe(2);
    expect(report.problems.readsOutsideSchema.examples[0]!.message).toMatch(
      /records change when derive sees the whole item \(fields the schema drops\): .* differs in name/,
    );
  });

  it("names the record and attribute of a function-valued attribute instead of crashing (issue 14 item 10)", () => {
    const items = workflows({ workflows: 2, contexts: 1, pool: 2, seed: 7 });
    const withFunction = migration({ derive: (wf: Wf) => [{ PK: wf.PK, SK: `CTX#x#${wf.SK}`, render: () => "x" }] });
    const report = checkMigration(withFunction, { generated: items });
    expect(report.problems.invalidRecords.count).toBe(2);
    expect(report.problems.invalidRecords.examples[0]!.message).toBe(
      `record 0 (PK="${items[0]!.PK}" SK="CTX#x#${items[0]!.SK}"): attribute "render" is a function; DynamoDB stores strings, numbers, booleans, null, binary, lists, maps and sets`,
    );
  });

  it("gives derive a time budget: an endless loop is reported, and check stops after three (issue 14 item 11)", () => {
    const items = workflows({ workflows: 10, contexts: 1, pool: 2, seed: 8 });
    const endless = migration({
      derive: (wf: Wf) => {
        for (;;) if (wf.PK === "never") break;
        return [];
      },
    });
    const started = Date.now();
    const report = checkMigration(endless, { generated: items, deriveTimeoutMs: 100 });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(report.problems.deriveTimedOut.count).toBe(3);
    expect(report.problems.deriveTimedOut.examples[0]!.message).toMatch(/derive did not return within 100 ms \(an endless loop\?\)/);
    expect(report.stopped).toMatch(/stopped after 3 derives ran over their 100 ms budget/);
    expect(report.ok).toBe(false);
  });

  it("reports items its schema rejects, naming the field", () => {
    const items = workflows({ workflows: 2, contexts: 1, pool: 2, seed: 6 });
    const report = checkMigration(migration({ schema: z.object({ priority: z.number() }), derive: () => [] }), { generated: items });
    expect(report.problems.schemaMismatch.count).toBe(2);
    expect(report.problems.schemaMismatch.examples[1]).toMatchObject({ key: keyOfItem(items[1]!) });
    expect(report.problems.schemaMismatch.examples[1]!.message).toMatch(/^priority: /);
  });
});

describe("a migration with bad records", () => {
  it("derives keys that look like source items", () => {
    const items = workflows({ workflows: 2, contexts: 1, pool: 2, seed: 7 });
    const report = checkMigration(migration({ derive: (wf: Wf) => [{ PK: wf.PK, SK: `${wf.SK}-copy` }] }), {
      generated: items,
    });
    expect(report.problems.sourceKeyCollision.count).toBe(2);
    expect(report.problems.sourceKeyCollision.examples[0]!.message).toMatch(/collides with source items \(WF#\.\.\.\)/);
  });

  it("derives the same key from two workflows: seed 000's SK = CTX#<contextId>", () => {
    const items = workflows({ workflows: 6, contexts: 1, pool: 2, seed: 8 });
    const colliding = migration({
      derive: (wf: Wf) => wf.contexts.map((c: { id: string }) => ({ PK: wf.PK, SK: `CTX#${c.id}` })),
    });
    const report = checkMigration(colliding, { generated: items });
    // Two contexts dealt round-robin over six workflows: two first owners, four collisions.
    expect(report.problems.crossItemCollision.count).toBe(4);
    const first = report.problems.crossItemCollision.examples[0]!;
    expect(first.key).toEqual(keyOfItem(items[2]!));
    expect(first.message).toBe(
      `record PK="${items[0]!.PK}" SK="CTX#${(items[0]!.contexts as { id: string }[])[0]!.id}" is also derived by PK="${items[0]!.PK}" SK="${items[0]!.SK}"`,
    );
  });

  it("derives a record over 400 KB, and more records than maxRecordsPerItem", () => {
    const items = workflows({ workflows: 2, contexts: 3, pool: 3, tasks: 12, seed: 9 });
    const big = migration({ derive: (wf: Wf) => [{ PK: wf.PK, SK: `BIG#${wf.SK}`, blob: "x".repeat(401 * 1024) }] });
    const sized = checkMigration(big, { generated: items });
    expect(sized.problems.sizeLimit.count).toBe(2);
    expect(sized.problems.sizeLimit.examples[0]!.message).toMatch(/^record 0: \d+ bytes, over DynamoDB's 400 KB item limit$/);
    const many = migration({
      schema: z.object({ tasks: z.array(z.object({ id: z.string() })) }),
      derive: (wf: Wf) => wf.tasks.map((t: { id: string }) => ({ PK: wf.PK, SK: `${wf.SK}#TASK#${t.id}` })),
      options: { maxRecordsPerItem: 10 },
    });
    const counted = checkMigration(many, { generated: items });
    expect(counted.problems.tooManyRecords.count).toBe(2);
    expect(counted.problems.tooManyRecords.examples[0]).toMatchObject({ key: keyOfItem(items[0]!), message: "12 records, more than maxRecordsPerItem (10)" });
  });

  it("derives a key that an item already in the table has", () => {
    const [item] = workflows({ workflows: 1, contexts: 1, pool: 1, seed: 10 });
    const contextId = (item!.contexts as { id: string }[])[0]!.id;
    const occupied = keyId(WORKFLOWS_TABLE, { PK: item!.PK, SK: `CTX#${contextId}#${item!.SK}` });
    const report = checkMigration(migration({}), { sampleItems: [item!], otherKeys: new Set([occupied]) });
    expect(report.problems.existingItemCollision.count).toBe(1);
    expect(report.problems.existingItemCollision.examples[0]).toMatchObject({ origin: "sample", key: keyOfItem(item!) });
  });
});

describe("the report", () => {
  it("counts every item but keeps only the first examples, and skips non-source and duplicate items", () => {
    const items = workflows({ workflows: 20, contexts: 1, pool: 20, seed: 11 });
    const derivedAlready: DerivedRecord = {
      PK: items[0]!.PK,
      SK: "WF#stamped",
      [OWNER_ATTRIBUTE]: { migration: "0099_under-test", owner: keyOfItem(items[0]!) },
    };
    const report = checkMigration(
      migration({
        derive: () => {
          throw new Error("boom");
        },
      }),
      {
        sampleItems: [...items, items[0]!, { PK: "tenant-0001", SK: "CTX#c#WF#x" }, derivedAlready],
        examples: 2,
      },
    );
    expect(report.checked.sample).toBe(20);
    expect(report.problems.deriveThrew.count).toBe(20);
    expect(report.problems.deriveThrew.examples).toHaveLength(2);
    expect(report.problemCount).toBe(20);
    expect(report.ok).toBe(false);
  });

  it("becomes a CheckFailedError (exit code 1) that carries the report and names the problems", () => {
    const report = checkMigration(
      migration({
        derive: () => {
          throw new Error("boom");
        },
      }),
      { generated: workflows({ workflows: 2, seed: 12 }) },
    );
    const error = new CheckFailedError(report);
    expect(error.exitCode).toBe(1);
    expect(error.report).toBe(report);
    expect(error.message).toBe("0099_under-test failed the check (derive() threw: 2). Fix the migration file and run `ferry check` again.");
  });

  it("files each problem line of invalid records under its category", () => {
    expect(problemCategory('record 0: key PK="a" SK="WF#b" collides with source items (WF#...)')).toBe("sourceKeyCollision");
    expect(problemCategory("record 1: SK over 1024 bytes")).toBe("sizeLimit");
    expect(problemCategory("record 1: PK over 2048 bytes")).toBe("sizeLimit");
    expect(problemCategory("record 2: 409700 bytes, over DynamoDB's 400 KB item limit")).toBe("sizeLimit");
    expect(problemCategory("101 records, more than maxRecordsPerItem (100)")).toBe("tooManyRecords");
    expect(problemCategory('record 3: duplicate key PK="a" SK="b"')).toBe("invalidRecords");
  });
});
