/**
 * What both API versions share: the request and result shapes, input validation and how a
 * stored item becomes a response item (`{ id, ...fields }`, never keys or ferry's stamp).
 */
import { OWNER_ATTRIBUTE, BadRequestError, type ResumeKey } from "@ferry/core";
import { WORKFLOW_SK_PREFIX } from "../model/workflow.ts";

/** Attributes of a workflow in list answers (the embedded tasks are not listed). */
export const WORKFLOW_SUMMARY_ATTRIBUTES = ["name", "status", "started_at", "completed_at", "assignees", "contexts", "description"] as const;

/** One workflow or task in an answer. */
export type ApiItem = { id: string } & Record<string, unknown>;

export interface ListByContextRequest {
  tenant: string;
  contextId: string;
  limit: number;
  start?: ResumeKey;
}

/** Work done to answer, for benchmarks and logs. */
export interface QueryStats {
  /** DynamoDB requests made. */
  requests: number;
  /** Items DynamoDB read (ScannedCount plus items fetched). */
  itemsRead: number;
  /** Read capacity consumed, when DynamoDB reports it. */
  readUnits: number;
}

export interface ListResult {
  items: ApiItem[];
  /** Where the next page starts; undefined at the end. */
  next?: ResumeKey;
  stats: QueryStats;
}

/** The reads behind one API version. */
export interface WorkflowReader {
  readonly version: "v1" | "v2";
  listByContext(request: ListByContextRequest): Promise<ListResult>;
  /** undefined when the tenant has no such workflow. */
  getWorkflow(tenant: string, workflowId: string): Promise<ApiItem | undefined>;
  /** undefined when the tenant has no such workflow. */
  listTasks(tenant: string, workflowId: string): Promise<ApiItem[] | undefined>;
}

export const DEFAULT_LIST_LIMIT = 50;
export const MAX_LIST_LIMIT = 1_000;

const ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A context or workflow id: no `#` (it would reach into other key ranges) and no spaces. */
export function parseId(parameter: string, value: string | undefined): string {
  if (value === undefined || value === "") throw new BadRequestError(parameter, `${parameter} is required.`);
  if (!ID.test(value)) throw new BadRequestError(parameter, `${parameter} must be 1-128 characters of A-Z a-z 0-9 . _ : - (got "${value.slice(0, 40)}").`);
  return value;
}

/** The `limit` query parameter. */
export function parseLimit(value: string | undefined): number {
  if (value === undefined || value === "") return DEFAULT_LIST_LIMIT;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isInteger(n) || n < 1 || n > MAX_LIST_LIMIT) {
    throw new BadRequestError("limit", `limit must be an integer from 1 to ${MAX_LIST_LIMIT} (got "${value.slice(0, 20)}").`);
  }
  return n;
}

/** A stored item as an answer: id first, no keys, no owner stamp. */
export function present(id: string, item: Record<string, unknown>, drop: readonly string[] = []): ApiItem {
  const { PK: _pk, SK: _sk, [OWNER_ATTRIBUTE]: _stamp, ...fields } = item;
  for (const name of drop) delete fields[name];
  return { id, ...fields };
}

/** The workflow id of a `WF#<id>` sort key. */
export function workflowIdOfSk(sk: unknown): string {
  return String(sk).slice(WORKFLOW_SK_PREFIX.length);
}

export function emptyStats(): QueryStats {
  return { requests: 0, itemsRead: 0, readUnits: 0 };
}
