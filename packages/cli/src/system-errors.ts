/**
 * Node's network errors as the one line a user needs: which address or port, and what to do
 * (start `ferry local`, pick another --port), instead of the raw `connect ECONNREFUSED ...`.
 */

/** A Node system error (`code`, `address`, `port`, `syscall`), possibly inside an AggregateError or a cause. */
interface SystemError {
  code: string;
  address?: string;
  port?: number;
  syscall?: string;
  hostname?: string;
}

function systemErrorOf(err: unknown, depth = 0): SystemError | undefined {
  if (!err || typeof err !== "object" || depth > 3) return undefined;
  const e = err as Partial<SystemError> & { errors?: unknown[]; cause?: unknown };
  // Node 20 tries every address of a host at once and reports them in an AggregateError.
  const inner = e.errors?.[0] ?? e.cause;
  if (typeof e.code === "string" && (e.address !== undefined || e.port !== undefined || e.hostname !== undefined)) return e as SystemError;
  if (typeof e.code === "string" && inner) return { ...(systemErrorOf(inner, depth + 1) ?? {}), code: e.code };
  return inner ? systemErrorOf(inner, depth + 1) : undefined;
}

const where = (e: SystemError) => `${e.address ?? "?"}${e.port !== undefined ? `:${e.port}` : ""}`;

/** The one-line message and exit code for a known network error, or undefined. */
export function describeSystemError(err: unknown): { message: string; exitCode: number } | undefined {
  const e = systemErrorOf(err);
  if (!e) return undefined;
  switch (e.code) {
    case "ECONNREFUSED":
      return {
        message:
          `Nothing answers at ${where(e)} (connection refused). Start DynamoDB Local there (\`ferry local${e.port !== undefined ? ` --port ${e.port}` : ""}\`), ` +
          "or point --endpoint / AWS_ENDPOINT_URL_DYNAMODB at the one that runs.",
        exitCode: 1,
      };
    case "EADDRINUSE":
      return {
        message: `Port ${e.port ?? "?"}${e.address ? ` on ${e.address}` : ""} is already in use. Pick another --port (--port 0 picks a free one), or stop what listens there.`,
        exitCode: 2,
      };
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return {
        message: `Cannot resolve the host ${e.hostname ?? where(e)} (${e.code}). Check --endpoint / AWS_ENDPOINT_URL_DYNAMODB and --region.`,
        exitCode: 1,
      };
    default:
      return undefined;
  }
}
