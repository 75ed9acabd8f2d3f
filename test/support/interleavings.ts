// Forced interleavings of one backfill page with the dual-write (issue 19 part 1, and each
// kind that reuses the page): the real dual-write runs behind the local event source mapping
// with its handler gated, so each change of the victim item reaches the new model exactly when
// a scenario says: before the page's plain writes, between them and the validation read, or
// after the page. The scenarios are written once here; each kind's test arranges its tables.
import type { DynamoClients, Migration } from "@ferry/core";
import { type PageResult, convertPage } from "@ferry/core/backfill/page";
import { startLocalDualWrite } from "@ferry/core/local/dual-write";
import { createDualWriteHandler } from "@ferry/functions/dual-write";
import type { DynamoDBStreamEvent } from "aws-lambda";
import { testClients } from "./dynamo.ts";

export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The dual-write with a gate in front of its handler: held, it applies nothing until released. `isVictim` picks the victim's stream records. */
export async function gatedDualWrite(
  clients: DynamoClients,
  table: string,
  controlTable: string,
  migration: Migration,
  isVictim: (keys: Record<string, { S?: string }>) => boolean,
) {
  const real = createDualWriteHandler({ migration, doc: clients.doc, tableName: table, controlTable });
  let opened: () => void = () => {};
  let gate: Promise<void> = Promise.resolve();
  let applied = 0;
  const dualWrite = await startLocalDualWrite({
    clients,
    tableName: table,
    controlTable,
    migration,
    pollIntervalMs: 20,
    handler: async (event: DynamoDBStreamEvent, context) => {
      await gate;
      const out = await real(event, context);
      applied += event.Records.filter((r) => isVictim((r.dynamodb?.Keys ?? {}) as Record<string, { S?: string }>)).length;
      return out;
    },
  });
  return {
    dualWrite,
    applied: () => applied,
    hold() {
      gate = new Promise((resolve) => (opened = resolve));
    },
    release() {
      opened();
      gate = Promise.resolve();
    },
  };
}

export type Cue = "beforeWrite" | "beforeValidate" | "afterPage";
/** The victim's two versions: "a" (as seeded) and "b" (a change of fields derive reads). */
export type Version = "a" | "b";
export interface Control {
  /** The application writes the victim at this version (its dual-write waits at the gate). */
  change(version: Version): Promise<void>;
  remove(): Promise<void>;
  /** Lets the dual-write apply every change of the victim made so far, then holds it again. */
  apply(): Promise<void>;
}
type Step = (c: Control) => Promise<void>;
export type Scenario = [name: string, steps: Partial<Record<Cue, Step>>, repaired: number];

const change =
  (version: Version): Step =>
  (c) =>
    c.change(version);
const remove: Step = (c) => c.remove();
const apply: Step = (c) => c.apply();
export const inOrder =
  (...steps: Step[]): Step =>
  async (c) => {
    for (const step of steps) await step(c);
  };
export { apply, change };

/** Every interleaving of one change (or delete) of the victim with the page, and how many repairs each costs. */
export const SCENARIOS: Scenario[] = [
  ["a change applied by the dual-write before the page's write", { beforeWrite: inOrder(change("b"), apply) }, 1],
  ["a change applied by the dual-write between the write and the validation", { beforeValidate: inOrder(change("b"), apply) }, 1],
  ["a change made before the write, applied between the write and the validation", { beforeWrite: change("b"), beforeValidate: apply }, 1],
  ["a change made between the write and the validation, applied after the page", { beforeValidate: change("b") }, 1],
  ["a change made and applied after the validation", { afterPage: inOrder(change("b"), apply) }, 0],
  ["a delete applied by the dual-write before the page's write", { beforeWrite: inOrder(remove, apply) }, 1],
  ["a delete made between the write and the validation, applied after the page", { beforeValidate: remove }, 1],
  [
    "ABA: A->B applied before the write, B->A made before the validation and applied after it",
    { beforeWrite: inOrder(change("b"), apply), beforeValidate: change("a") },
    0,
  ],
  ["ABA: A->B->A applied before the write", { beforeWrite: inOrder(change("b"), change("a"), apply) }, 0],
  [
    "ABA: A->B applied before the write, B->A applied before the validation",
    { beforeWrite: inOrder(change("b"), apply), beforeValidate: inOrder(change("a"), apply) },
    0,
  ],
];

/**
 * Runs a scenario's steps on the backfill's client at its cues: its first BatchExecuteStatement
 * (the plain writes) and its first BatchGetItem (the validation read). Returns the cues fired.
 */
export function cueOn(backfill: DynamoClients, steps: Scenario[1], control: Control): Set<Cue> {
  const fired = new Set<Cue>();
  backfill.raw.middlewareStack.add(
    (next, context) => async (args) => {
      const cue = ({ BatchExecuteStatementCommand: "beforeWrite", BatchGetItemCommand: "beforeValidate" } as const)[context.commandName as string];
      if (cue && !fired.has(cue)) {
        fired.add(cue);
        await steps[cue]?.(control);
      }
      return next(args);
    },
    { step: "initialize", name: "interleave" },
  );
  return fired;
}

/**
 * The Control of a scenario over one victim item: `write(version)` and `remove()` are the
 * application's writes, each counted as a change the held dual-write still has to apply, and
 * `apply()` lets it apply every change made so far, then holds it again. `pending()` is that count.
 */
export function victimControl(
  gated: Awaited<ReturnType<typeof gatedDualWrite>>,
  write: (version: Version) => Promise<unknown>,
  remove: () => Promise<unknown>,
): { control: Control; pending: () => number } {
  let made = gated.applied();
  const control: Control = {
    async change(version) {
      await write(version);
      made++;
    },
    async remove() {
      await remove();
      made++;
    },
    async apply() {
      gated.release();
      await until(() => gated.applied() >= made, "the dual-write to apply the victim's changes");
      gated.hold();
    },
  };
  return { control, pending: () => made };
}

/**
 * The act of a forced interleaving: one backfill page (segment 0 of 1) with the scenario's steps
 * at its cues and after it, then the held dual-write released until it applied all `pending()`
 * victim changes. Returns the page's result and the cues fired, in order.
 */
export async function forcedPage(
  table: string,
  migration: Migration,
  steps: Scenario[1],
  control: Control,
  gated: Awaited<ReturnType<typeof gatedDualWrite>>,
  pending: () => number,
): Promise<{ result: PageResult; fired: Cue[] }> {
  const backfill = testClients();
  const fired = cueOn(backfill, steps, control);
  const result = await convertPage(backfill.doc, table, migration, { segment: 0, totalSegments: 1, pageSize: 100 });
  await steps.afterPage?.(control);
  gated.release();
  await until(() => gated.applied() >= pending(), "the dual-write to apply the rest");
  return { result, fired: [...fired] };
}

/**
 * Makes a page attempt on `dying` die between its writes and its validation read: the victim's
 * A->B reaches the new model before the page's (now stale) write of A, then the validation
 * read fails with an error no Retry matches.
 */
export function dieBeforeValidation(dying: DynamoClients, control: Control): void {
  let cue = 0;
  dying.raw.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "BatchExecuteStatementCommand" && cue === 0 && ++cue) await inOrder(change("b"), apply)(control);
      if (context.commandName === "BatchGetItemCommand" && cue === 1 && ++cue)
        throw Object.assign(new Error("injected: the task died"), { name: "ValidationException" });
      return next(args);
    },
    { step: "initialize", name: "dieBeforeValidation" },
  );
}
