/**
 * A time budget for synchronous code (a migration's derive in `check` and `plan`): the call
 * runs inside a vm script with a timeout, whose watchdog interrupts even an endless loop.
 * It costs about 0.1 ms per call (measured on Node 20), which is why the dual-write and the
 * backfill do not use it: `check` and `add` have already run every derive under it.
 */
import vm from "node:vm";
import { FerryError } from "../errors.ts";

/** How long one derive may run in `check`, `plan` and the add guard. */
export const DEFAULT_DERIVE_TIMEOUT_MS = 2_000;

/** A call that did not return within its budget. */
export class TimeBudgetExceededError extends FerryError {
  constructor(readonly budgetMs: number) {
    super(`did not return within ${budgetMs} ms (an endless loop?); make derive a plain, quick function of the item`);
  }
}

const context = vm.createContext({ call: undefined as undefined | (() => unknown) });
const script = new vm.Script("call()");

/** `fn()`, interrupted with TimeBudgetExceededError after `budgetMs`. */
export function withinTimeBudget<T>(fn: () => T, budgetMs: number): T {
  context.call = fn;
  try {
    return script.runInContext(context, { timeout: budgetMs }) as T;
  } catch (err) {
    if ((err as { code?: string }).code === "ERR_SCRIPT_EXECUTION_TIMEOUT") throw new TimeBudgetExceededError(budgetMs);
    throw err;
  } finally {
    context.call = undefined;
  }
}
