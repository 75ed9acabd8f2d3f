// Issue 14's general test: no command reports success, "clean" or "OK" on a table whose items
// it could not read (missing, or reads denied) or whose key schema does not fit the migration.
// The missing and mis-keyed tables go through the real CLI; AccessDenied is injected at the
// SDK client's middleware (createDynamoClients), in this process.
import { CreateTableCommand } from "@aws-sdk/client-dynamodb";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { Command } from "commander";
import { afterEach, describe, expect, it, vi } from "vitest";
import { addCommand } from "../../packages/cli/src/commands/add.ts";
import { checkCommand } from "../../packages/cli/src/commands/check.ts";
import { convertCommand } from "../../packages/cli/src/commands/convert.ts";
import { planCommand } from "../../packages/cli/src/commands/plan.ts";
import { statusCommand } from "../../packages/cli/src/commands/status.ts";
import { verifyCommand } from "../../packages/cli/src/commands/verify.ts";
import { captureOutput, ferryBin } from "../support/cli.ts";
import { endpoint, freshExampleTable, testClients, uniqueTableName } from "../support/dynamo.ts";
import { batchPutAll } from "@ferry/core";
import { generateWorkflows } from "@ferry/example-workflows";

// Reads of data items denied, as an IAM policy without dynamodb:Scan/GetItem/Query would: DescribeTable still answers.
const denied = vi.hoisted(() => ({ on: false }));
vi.mock("../../packages/core/src/aws/dynamodb.ts", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../packages/core/src/aws/dynamodb.ts")>();
  return {
    ...original,
    createDynamoClients: (options: Parameters<typeof original.createDynamoClients>[0]) => {
      const clients = original.createDynamoClients(options);
      clients.raw.middlewareStack.add(
        (next, context) => async (args) => {
          const input = args.input as { TableName?: string };
          const read = ["ScanCommand", "QueryCommand", "GetItemCommand", "BatchGetItemCommand"].includes(context.commandName ?? "");
          if (denied.on && read && !String(input.TableName ?? "").endsWith(".ferry")) {
            throw Object.assign(
              new Error(
                `User: arn:aws:iam::123456789012:user/test is not authorized to perform: dynamodb:${String(context.commandName).replace(/Command$/, "")}`,
              ),
              {
                name: "AccessDeniedException",
                $fault: "client",
                $metadata: { httpStatusCode: 400 },
              },
            );
          }
          return next(args);
        },
        { step: "initialize", priority: "high", name: "ferryTestAccessDenied" },
      );
      return clients;
    },
  };
});

const clients = testClients();
// What each command prints on success: check "OK: no problems found.", verify "clean", add "Added", convert "completed".
const SUCCESS = /\bOK\b|\bclean\b|^Added|\bcompleted\b|no problems/im;

/** Every command that reports success on a table: reading items is what each one's verdict rests on. */
const commands = (conn: string[]) => [
  ["check", "0001", ...conn],
  ["plan", "0001", ...conn],
  ["verify", "0001", ...conn],
  ["add", "0001", ...conn],
  ["convert", "0001", "--dry-run", ...conn],
];

describe("never OK on data the command could not read", () => {
  it("a missing table: every command fails, none says OK or clean", async () => {
    const conn = ["--table", uniqueTableName("missing"), "--endpoint", endpoint()];
    const results = await Promise.all(commands(conn).map((args) => ferryBin(args).then((r) => ({ args: args.slice(0, 2).join(" "), ...r }))));
    for (const r of results) {
      expect({ command: r.args, failed: r.code !== 0 }).toEqual({ command: r.args, failed: true });
      expect({ command: r.args, stdout: r.stdout }).not.toEqual({ command: r.args, stdout: expect.stringMatching(SUCCESS) });
    }
  }, 120_000);

  it("a table whose keys do not fit the migration's declared keys: every command fails naming both key schemas", async () => {
    const table = uniqueTableName("keyed");
    await clients.raw.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
        KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
        StreamSpecification: { StreamEnabled: true, StreamViewType: "NEW_AND_OLD_IMAGES" },
      }),
    );
    await clients.doc.send(new PutCommand({ TableName: table, Item: { id: "WF#1", contexts: [{ id: "c" }] } }));
    const conn = ["--table", table, "--endpoint", endpoint()];
    const results = await Promise.all(commands(conn).map((args) => ferryBin(args).then((r) => ({ args: args.slice(0, 2).join(" "), ...r }))));
    for (const r of results) {
      expect({ command: r.args, failed: r.code !== 0 }).toEqual({ command: r.args, failed: true });
      expect({ command: r.args, stdout: r.stdout }).not.toEqual({ command: r.args, stdout: expect.stringMatching(SUCCESS) });
    }
    for (const r of results) {
      expect(r.stderr, r.args).toMatch(
        /declares keys PK \(S, partition key\) and SK \(S, sort key\), but table \S+ is keyed by id \(S, partition key\), no sort key\. Nothing was written/,
      );
    }
  }, 120_000);

  describe("reads denied (AccessDeniedException at the middleware)", () => {
    const { stdout } = captureOutput();
    afterEach(() => {
      denied.on = false;
    });

    it("check, plan, verify, status, add and convert --dry-run all fail, none says OK or clean", async () => {
      const table = await freshExampleTable(clients, "denied");
      await batchPutAll(clients.doc, table, [...generateWorkflows({ tenants: 1, workflows: 10, contexts: 1, pool: 2, tasks: 0, itemKb: 1, seed: 2 })]);
      const conn = ["--table", table, "--endpoint", endpoint()];
      denied.on = true;
      const outcomes: { command: string; error?: unknown; out: string }[] = [];
      for (const args of [...commands(conn), ["status", "0001", ...conn]]) {
        stdout.length = 0;
        const program = new Command("ferry").exitOverride();
        for (const c of [checkCommand(), planCommand(), verifyCommand(), addCommand(), convertCommand(), statusCommand()]) program.addCommand(c.exitOverride());
        const error = await program.parseAsync(args, { from: "user" }).then(
          () => undefined,
          (err: unknown) => err,
        );
        outcomes.push({ command: args.slice(0, 2).join(" "), ...(error ? { error } : {}), out: stdout.join("") });
      }
      for (const o of outcomes.filter((o) => o.command !== "status 0001")) {
        // The error itself, or a failure that names it (convert's run records it and fails).
        expect({ command: o.command, denied: o.error instanceof Error && /AccessDenied|not authorized/.test(`${o.error.name} ${o.error.message}`) }).toEqual({
          command: o.command,
          denied: true,
        });
        expect({ command: o.command, out: o.out }).not.toEqual({ command: o.command, out: expect.stringMatching(SUCCESS) });
      }
      // status reads only the control table (not denied): it may answer, but never calls the data clean.
      const status = outcomes.find((o) => o.command === "status 0001");
      expect(status?.out ?? "").not.toMatch(/\bclean\b/);
    }, 120_000);
  });
});
