/**
 * `ferry serve`: the example service's API (v1 and v2) on a local HTTP server, the same Hono
 * app the deployed Lambda runs, until Ctrl-C. Tokens are HS256 with FERRY_JWT_SECRET.
 */
import { UsageError, createDynamoClients, defaultControlTableName, describeTable, targetTableName } from "@ferry/core";
import { TableNotFoundError } from "@ferry/core/design/sample";
import { DEFAULT_RELEASE_CACHE_OPTIONS } from "@ferry/core/release/cache";
import { DEFAULT_SHADOW_RECHECK, SHADOW_RECHECK_LIMITS } from "@ferry/core/release/shadow";
import {
  DEFAULT_LOCAL_SERVER_OPTIONS,
  DEFAULT_BY_CONTEXT_TABLE_NAME,
  DEFAULT_ROUTE_MIGRATIONS,
  DEFAULT_V1_OPTIONS,
  buildApiDeps,
  deriveTokenSecret,
  hs256Tenant,
  startLocalApiServer,
} from "@ferry/example-workflows";
import { Command } from "commander";
import { type ConnectionFlags, parseInteger, withConnectionFlags, tableFor } from "../options.ts";
import { onShutdown, untilSignal } from "../shutdown.ts";

interface ServeFlags extends ConnectionFlags {
  port: number;
  host: string;
  controlTable?: string;
  byContextTable: string;
  cacheMs: number;
  v1PageLimit: number;
  shadowRecheckAfter: number;
  shadowRechecks: number;
}

/** The JWT secret of local tokens, or the error saying how to set one. */
export function requireJwtSecret(env: NodeJS.ProcessEnv = process.env): string {
  const secret = env.FERRY_JWT_SECRET;
  if (!secret || secret.length < 16) {
    throw new UsageError(
      "FERRY_JWT_SECRET must hold the HS256 secret of local tokens (at least 16 characters), e.g.\n" +
        "  export FERRY_JWT_SECRET=$(node -e \"console.log(require('crypto').randomBytes(24).toString('base64url'))\")",
    );
  }
  return secret;
}

export function serveCommand(): Command {
  const command = new Command("serve").description(
    "Serve the example API (v1 old model, v2 new model, unversioned by release) on a local HTTP server until Ctrl-C",
  );
  withConnectionFlags(command);
  return command
    .option("--port <port>", "port to listen on (0 picks a free one)", parseInteger(0, 65535), DEFAULT_LOCAL_SERVER_OPTIONS.port)
    .option("--host <host>", "interface to listen on", DEFAULT_LOCAL_SERVER_OPTIONS.hostname)
    .option("--control-table <name>", "ferry's control table with the release configuration (default: FERRY_CONTROL_TABLE or <table>.ferry)")
    .option(
      "--by-context-table <name>",
      "the table migration 0004 copies into, read by v2 of /workflows/by-context/<id> (default: its entry in FERRY_TARGET_TABLES, else FERRY_TARGET_TABLE, else WorkflowsByContext: what convert writes)",
      targetTableName({ id: DEFAULT_ROUTE_MIGRATIONS.byContextTable, target: { table: DEFAULT_BY_CONTEXT_TABLE_NAME } }),
    )
    .option(
      "--cache-ms <ms>",
      "how long the release configuration is cached (a flip reaches the server within it)",
      parseInteger(0, 5_000),
      DEFAULT_RELEASE_CACHE_OPTIONS.cacheMs,
    )
    .option("--v1-page-limit <n>", "items v1 reads per Query page (AWS also stops each page at 1 MB)", parseInteger(1, 10_000), DEFAULT_V1_OPTIONS.pageLimit)
    .option(
      "--shadow-recheck-after <ms>",
      "delay before a shadow disagreement is read again on both versions (the dual-write lag it allows)",
      parseInteger(0, SHADOW_RECHECK_LIMITS.recheckAfterMs),
      DEFAULT_SHADOW_RECHECK.recheckAfterMs,
    )
    .option(
      "--shadow-rechecks <n>",
      "re-reads before a shadow disagreement counts as persistent (0: at once)",
      parseInteger(0, SHADOW_RECHECK_LIMITS.rechecks),
      DEFAULT_SHADOW_RECHECK.rechecks,
    )
    .addHelpText(
      "after",
      `
Routes: GET /v1|/v2|/workflows?context=<id>&limit=<n>&nextToken=<t>, /workflows/<id>, /workflows/<id>/tasks,
/workflows/by-status/<status>, /workflows/by-context/<id>.
Unversioned routes follow \`ferry move\` (${DEFAULT_ROUTE_MIGRATIONS.byContext} decides the context route,
${DEFAULT_ROUTE_MIGRATIONS.workflow} the workflow and task routes, ${DEFAULT_ROUTE_MIGRATIONS.byStatus} by-status,
${DEFAULT_ROUTE_MIGRATIONS.byContextTable} by-context); Accept-Version: 1|2 pins a request.
Usage counts reach the control table every 5 s and on Ctrl-C/SIGTERM (a clean stop); stop it
that way, not with kill -9, or \`ferry remove\` waits out the window of the counts it lost.

Example:
  $ export FERRY_JWT_SECRET=dev-secret-change-me-please
  $ npx ferry serve --endpoint http://127.0.0.1:8000 --port 4000 &
  $ TOKEN=$(npx ferry token --tenant tenant-0001)
  $ curl -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:4000/v2/workflows?context=ctx-00001&limit=5"`,
    )
    .action(async (opts: ServeFlags) => {
      const secret = requireJwtSecret();
      const clients = createDynamoClients({ endpoint: opts.endpoint, region: opts.region });
      const tableName = tableFor(opts);
      // Without its table every request would be a 500: refuse to start instead.
      if (!(await describeTable(clients.raw, tableName))) {
        clients.raw.destroy();
        throw new TableNotFoundError(tableName);
      }
      const server = await startLocalApiServer(
        buildApiDeps({
          doc: clients.doc,
          tableName,
          controlTable: opts.controlTable ?? defaultControlTableName(tableName),
          byContextTable: opts.byContextTable,
          tenant: hs256Tenant(secret),
          tokenSecret: process.env.FERRY_TOKEN_SECRET ?? deriveTokenSecret(secret),
          release: { cacheMs: opts.cacheMs },
          v1: { pageLimit: opts.v1PageLimit },
          shadowRecheck: { recheckAfterMs: opts.shadowRecheckAfter, rechecks: opts.shadowRechecks },
          logError: (err) => process.stderr.write(`ferry serve: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`),
        }),
        { port: opts.port, hostname: opts.host },
      );
      onShutdown(async () => {
        await server.close();
        clients.raw.destroy();
      });
      if (opts.json) process.stdout.write(`${JSON.stringify({ url: server.url, table: tableName })}\n`);
      else process.stdout.write(`API listening on ${server.url} (table ${tableName}). Press Ctrl-C to stop.\n`);
      await untilSignal();
    });
}
