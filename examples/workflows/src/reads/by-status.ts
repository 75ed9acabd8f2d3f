/**
 * "Workflows by status", oldest started first, on both models. v1 is the old way: a Query on
 * the tenant's whole partition with a FilterExpression on `status`, following
 * LastEvaluatedKey to the end (the order is by started_at, which the table's key does not
 * hold, so every page reads the whole partition and sorts it). v2 is one Query on the
 * `byStatus` GSI that migration 0003 feeds in place. Both answer the same items in the same
 * order: by `<started_at>#WF#<id>`, the index's sort key.
 */
import { type DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { ResumeKey } from "@ferry/core";
import { WORKFLOW_SK_PREFIX } from "../model/workflow.ts";
import { BY_STATUS_INDEX } from "../table.ts";
import { type ApiItem, type ListResult, WORKFLOW_SUMMARY_ATTRIBUTES, emptyStats, present, workflowIdOfSk } from "./view.ts";

export interface ListByStatusRequest {
  tenant: string;
  status: string;
  limit: number;
  start?: ResumeKey;
}

/** One version's "workflows by status". */
export interface StatusReader {
  readonly version: "v1" | "v2";
  listByStatus(request: ListByStatusRequest): Promise<ListResult>;
}

/** The byStatus index's keys of a workflow, as 0003 derives them. */
export const byStatusKeys = (tenant: string, status: string, startedAt: string, sk: string) => ({
  byStatusPk: `${tenant}#${status}`,
  byStatusSk: `${startedAt}#${sk}`,
});

const isWorkflowSk = (sk: unknown) => typeof sk === "string" && sk.startsWith(WORKFLOW_SK_PREFIX) && !sk.slice(WORKFLOW_SK_PREFIX.length).includes("#");

/** DynamoDB orders string keys by their UTF-8 bytes; so does this. */
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));

const summaryNames = Object.fromEntries(WORKFLOW_SUMMARY_ATTRIBUTES.map((a, i) => [`#s${i}`, a]));
const summaryProjection = ["SK", ...Object.keys(summaryNames)].join(", ");
/** The projection's own placeholder for `status` (one name per attribute in the request). */
const STATUS_NAME = `#s${WORKFLOW_SUMMARY_ATTRIBUTES.indexOf("status")}`;

export interface StatusV1Options {
  /** Items DynamoDB evaluates per Query page (DynamoDB Local has no 1 MB page limit; see ./v1.ts). */
  pageLimit: number;
}

export const DEFAULT_STATUS_V1_OPTIONS: StatusV1Options = { pageLimit: 100 };

/** v1: the tenant's partition, filtered on status, sorted in code; the resume key is the last answered position. */
export function createStatusV1Reader(doc: DynamoDBDocumentClient, tableName: string, options: Partial<StatusV1Options> = {}): StatusReader {
  const o = { ...DEFAULT_STATUS_V1_OPTIONS, ...options };
  return {
    version: "v1",
    async listByStatus(request) {
      const stats = emptyStats();
      const matches: { position: string; item: Record<string, unknown> }[] = [];
      let start: Record<string, unknown> | undefined;
      do {
        const page = await doc.send(
          new QueryCommand({
            TableName: tableName,
            KeyConditionExpression: "PK = :tenant AND begins_with(SK, :wf)",
            FilterExpression: `${STATUS_NAME} = :status`,
            ProjectionExpression: summaryProjection,
            ExpressionAttributeNames: summaryNames,
            ExpressionAttributeValues: { ":tenant": request.tenant, ":wf": WORKFLOW_SK_PREFIX, ":status": request.status },
            ExclusiveStartKey: start,
            Limit: o.pageLimit,
            ReturnConsumedCapacity: "TOTAL",
          }),
        );
        stats.requests += 1;
        stats.itemsRead += page.ScannedCount ?? 0;
        stats.readUnits += page.ConsumedCapacity?.CapacityUnits ?? 0;
        for (const item of page.Items ?? []) {
          if (!isWorkflowSk(item.SK) || typeof item.started_at !== "string") continue;
          matches.push({ position: byStatusKeys(request.tenant, request.status, item.started_at, String(item.SK)).byStatusSk, item });
        }
        start = page.LastEvaluatedKey;
      } while (start);
      matches.sort((a, b) => byteOrder(a.position, b.position));
      // Resume after the last position answered (that workflow may be gone or changed since).
      const after = typeof request.start?.after === "string" ? request.start.after : undefined;
      const rest = after === undefined ? matches : matches.filter((m) => byteOrder(m.position, after) > 0);
      const page = rest.slice(0, request.limit);
      const items: ApiItem[] = page.map((m) => present(workflowIdOfSk(m.item.SK), m.item));
      const last = page[page.length - 1];
      return { items, ...(rest.length > page.length && last ? { next: { after: last.position } } : {}), stats };
    },
  };
}

/** v2: one Query on the byStatus GSI (its projection holds the listed fields). */
export function createStatusV2Reader(doc: DynamoDBDocumentClient, tableName: string): StatusReader {
  return {
    version: "v2",
    async listByStatus(request) {
      const stats = emptyStats();
      const items: ApiItem[] = [];
      let start = request.start;
      do {
        const page = await doc.send(
          new QueryCommand({
            TableName: tableName,
            IndexName: BY_STATUS_INDEX.name,
            KeyConditionExpression: "#pk = :pk",
            ProjectionExpression: summaryProjection,
            ExpressionAttributeNames: { ...summaryNames, "#pk": BY_STATUS_INDEX.partitionKey.name },
            ExpressionAttributeValues: { ":pk": byStatusKeys(request.tenant, request.status, "", "").byStatusPk },
            ExclusiveStartKey: start,
            Limit: request.limit - items.length,
            ReturnConsumedCapacity: "TOTAL",
          }),
        );
        stats.requests += 1;
        stats.itemsRead += page.ScannedCount ?? 0;
        stats.readUnits += page.ConsumedCapacity?.CapacityUnits ?? 0;
        for (const item of page.Items ?? []) items.push(present(workflowIdOfSk(item.SK), item));
        start = page.LastEvaluatedKey as ResumeKey | undefined;
      } while (start && items.length < request.limit);
      return { items, ...(start ? { next: start } : {}), stats };
    },
  };
}
