/**
 * Builds the API's dependencies from typed options: the two readers of each route family (on
 * the Workflows table, its byStatus index and 0004's copy table), a cached release per route
 * family, the tenant resolver and the nextToken secret. The Lambda entry and `ferry serve`
 * both call it; only the tenant resolver differs between them.
 */
import { createHmac } from "node:crypto";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { createV1Reader, type V1Options } from "../reads/v1.ts";
import { createV2Reader, type V2Options } from "../reads/v2.ts";
import { type StatusV1Options, createStatusV1Reader, createStatusV2Reader } from "../reads/by-status.ts";
import { createContextTableReader } from "../reads/by-context-table.ts";
import { DEFAULT_BY_CONTEXT_TABLE_NAME } from "../table.ts";
import { ReleaseCache, type ReleaseCacheOptions, type ShadowRecheckOptions, shadowRecheckOptions } from "@ferry/core";
import type { ApiDeps } from "./app.ts";
import type { TenantResolver } from "./auth.ts";
import { Background } from "./background.ts";
import { type WriterOptions, createWorkflowWriter } from "../writes/writer.ts";

/** Which migration's release decides the version of each route family. */
export const DEFAULT_ROUTE_MIGRATIONS = {
  /** GET /workflows?context=: the context index. */
  byContext: "0001_workflow-context-index",
  /** GET /workflows/{id} and /workflows/{id}/tasks: the task split. */
  workflow: "0002_split-workflow-tasks",
  /** GET /workflows/by-status/{status}: the byStatus GSI fed in place. */
  byStatus: "0003_workflow-status-index",
  /** GET /workflows/by-context/{context}: the copy into WorkflowsByContext. */
  byContextTable: "0004_workflows-by-context-table",
} as const;

export interface ApiOptions {
  doc: DynamoDBDocumentClient;
  tableName: string;
  controlTable: string;
  /** The table 0004 copies into (default DEFAULT_BY_CONTEXT_TABLE_NAME). */
  byContextTable?: string;
  tenant: TenantResolver;
  tokenSecret: string;
  migrations?: Partial<Record<keyof typeof DEFAULT_ROUTE_MIGRATIONS, string>>;
  release?: Partial<ReleaseCacheOptions>;
  v1?: Partial<V1Options>;
  v2?: Partial<V2Options>;
  /** v1 of "workflows by status". */
  statusV1?: Partial<StatusV1Options>;
  writer?: Partial<WriterOptions>;
  /** Shadow re-check delay and count (DEFAULT_SHADOW_RECHECK when omitted). */
  shadowRecheck?: Partial<ShadowRecheckOptions>;
  random?: () => number;
  logError?: ApiDeps["logError"];
}

/** nextToken's HMAC key derived from another secret, so one secret can serve both purposes. */
export function deriveTokenSecret(secret: string): string {
  return createHmac("sha256", secret).update("ferry next-token v1").digest("base64url");
}

export function buildApiDeps(options: ApiOptions): ApiDeps {
  const logError = options.logError ?? ((err: unknown) => console.error("api error", err));
  const migrations = { ...DEFAULT_ROUTE_MIGRATIONS, ...options.migrations };
  const releaseOptions = { ...options.release, usage: { onError: logError, ...options.release?.usage } };
  const release = (migrationId: string) => new ReleaseCache({ doc: options.doc, controlTable: options.controlTable, migrationId }, releaseOptions);
  const releases = {
    byContext: release(migrations.byContext),
    workflow: release(migrations.workflow),
    byStatus: release(migrations.byStatus),
    byContextTable: release(migrations.byContextTable),
  };
  // Where tasks are written depends on the task split's retirement; a rare case reads it uncached.
  const uncached = new ReleaseCache(releases.workflow.location, { ...releaseOptions, cacheMs: 0 });
  const writeRelease = {
    v1Retired: async () => Boolean((await releases.workflow.get()).v1RetiredAt),
    v1RetiredNow: async () => Boolean((await uncached.get()).v1RetiredAt),
    // Cached: 0003's dual-write stays after remove, so within a cache time it still sets the keys.
    statusKeysOwned: async () => Boolean((await releases.byStatus.get()).v1RetiredAt),
  };
  const v1 = createV1Reader(options.doc, options.tableName, options.v1);
  return {
    writer: createWorkflowWriter({ doc: options.doc, tableName: options.tableName }, writeRelease, options.writer),
    readers: { v1, v2: createV2Reader(options.doc, options.tableName, options.v2) },
    statusReaders: { v1: createStatusV1Reader(options.doc, options.tableName, options.statusV1), v2: createStatusV2Reader(options.doc, options.tableName) },
    contextTableReaders: { v1, v2: createContextTableReader(options.doc, options.byContextTable ?? DEFAULT_BY_CONTEXT_TABLE_NAME) },
    releases,
    tenant: options.tenant,
    tokenSecret: options.tokenSecret,
    background: new Background((err) => logError(err)),
    shadowRecheck: shadowRecheckOptions(options.shadowRecheck),
    random: options.random ?? Math.random,
    logError,
  };
}
