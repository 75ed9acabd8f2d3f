/**
 * v2 of "workflows by context" on migration 0004's copy: one Query on the WorkflowsByContext
 * table (PK = <tenant>#<contextId>, SK = WF#<id>), whose records carry the listed fields. The
 * same items in the same order (workflow id) as v1's filtered Query of the tenant's partition
 * (./v1.ts listByContext), which is this route's v1.
 */
import { type DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { ResumeKey } from "@ferry/core";
import { type ApiItem, type ListByContextRequest, type ListResult, WORKFLOW_SUMMARY_ATTRIBUTES, emptyStats, present, workflowIdOfSk } from "./view.ts";

/** One version's "workflows by context" (v1: ./v1.ts's reader; v2: the copy). */
export interface ContextListReader {
  readonly version: "v1" | "v2";
  listByContext(request: ListByContextRequest): Promise<ListResult>;
}

/** The copy's partition key of a tenant's context, as 0004 derives it. */
export const contextPartition = (tenant: string, contextId: string) => `${tenant}#${contextId}`;

export function createContextTableReader(doc: DynamoDBDocumentClient, targetTable: string): ContextListReader {
  const names = Object.fromEntries(WORKFLOW_SUMMARY_ATTRIBUTES.map((a, i) => [`#s${i}`, a]));
  const projection = ["SK", ...Object.keys(names)].join(", ");
  return {
    version: "v2",
    async listByContext(request) {
      const stats = emptyStats();
      const items: ApiItem[] = [];
      let start = request.start;
      do {
        const page = await doc.send(
          new QueryCommand({
            TableName: targetTable,
            KeyConditionExpression: "PK = :pk",
            ProjectionExpression: projection,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: { ":pk": contextPartition(request.tenant, request.contextId) },
            ExclusiveStartKey: start,
            Limit: request.limit - items.length,
            ReturnConsumedCapacity: "TOTAL",
          }),
        );
        stats.requests += 1;
        stats.itemsRead += page.ScannedCount ?? 0;
        stats.readUnits += page.ConsumedCapacity?.CapacityUnits ?? 0;
        for (const record of page.Items ?? []) items.push(present(workflowIdOfSk(record.SK), record));
        start = page.LastEvaluatedKey as ResumeKey | undefined;
      } while (start && items.length < request.limit);
      return { items, ...(start ? { next: start } : {}), stats };
    },
  };
}
