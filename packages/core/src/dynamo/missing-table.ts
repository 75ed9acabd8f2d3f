/**
 * The one test for "the table does not exist": DynamoDB answers ResourceNotFoundException
 * (the SDK's class, or an error of that name from another client copy). Reading a control
 * table before the first `ferry add` or `ferry convert` is the common case: nothing was
 * recorded yet.
 */
import { ResourceNotFoundException } from "@aws-sdk/client-dynamodb";
import { UsageError } from "../errors.ts";

/** The data table a command was pointed at does not exist. */
export class TableNotFoundError extends UsageError {
  constructor(readonly tableName: string) {
    super(`Table ${tableName} does not exist. Pass --table (and --endpoint), or create it with \`ferry seed\`.`);
  }
}

/** True when `err` says the table (or index) does not exist. */
export function isMissingTable(err: unknown): boolean {
  return err instanceof ResourceNotFoundException || (err instanceof Error && err.name === "ResourceNotFoundException");
}

/** `promise`'s value, or `fallback` when its table does not exist; other errors pass through. */
export async function unlessMissingTable<T, F>(promise: Promise<T>, fallback: F): Promise<T | F> {
  try {
    return await promise;
  } catch (err) {
    if (isMissingTable(err)) return fallback;
    throw err;
  }
}
