/**
 * Shadow reads (the Scientist pattern): for a share of requests the server also runs the
 * other version after answering and compares the workflow ids. Agreement counts and the
 * first disagreements are kept in the control table (SK `shadow`), the evidence a release
 * manager reads in `ferry status` before raising the percentage.
 */
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { type ControlLocation, ControlSk, migrationPk } from "../control/keys.ts";
import type { ApiVersion } from "./config.ts";

/** Disagreements kept with their details (the first ones: the rest are only counted). */
export const MAX_DISAGREEMENTS_KEPT = 10;
/** Ids listed per side of one disagreement. */
const MAX_IDS_LISTED = 20;

/** One comparison that did not match. */
export interface Disagreement {
  at: string;
  route: string;
  tenant: string;
  primary: ApiVersion;
  /** Ids only the primary version returned. */
  onlyPrimary: string[];
  /** Ids only the shadow version returned. */
  onlyShadow: string[];
}

export interface ShadowStats {
  compared: number;
  agreed: number;
  disagreed: number;
  /** Shadow runs that failed (errors are counted, never shown to the client). */
  errors: number;
  /** agreed / compared, undefined before the first comparison. */
  agreement?: number;
  disagreements: Disagreement[];
}

/** Compares two id lists as sets (order is the primary's concern, not the model's). */
export function compareIds(primary: string[], shadow: string[]): { agreed: boolean; onlyPrimary: string[]; onlyShadow: string[] } {
  const a = new Set(primary);
  const b = new Set(shadow);
  const onlyPrimary = [...a].filter((id) => !b.has(id));
  const onlyShadow = [...b].filter((id) => !a.has(id));
  return { agreed: onlyPrimary.length === 0 && onlyShadow.length === 0, onlyPrimary, onlyShadow };
}

/** Records one comparison (or one failed shadow run with `outcome: "error"`). */
export async function recordShadow(
  location: ControlLocation,
  outcome: { kind: "compared"; disagreement?: Omit<Disagreement, "at">; at?: Date } | { kind: "error" },
): Promise<void> {
  const key = { PK: migrationPk(location.migrationId), SK: ControlSk.shadow };
  if (outcome.kind === "error") {
    await location.doc.send(
      new UpdateCommand({ TableName: location.controlTable, Key: key, UpdateExpression: "ADD errors :one", ExpressionAttributeValues: { ":one": 1 } }),
    );
    return;
  }
  const agreed = outcome.disagreement ? 0 : 1;
  await location.doc.send(
    new UpdateCommand({
      TableName: location.controlTable,
      Key: key,
      UpdateExpression: "ADD compared :one, agreed :a, disagreed :d",
      ExpressionAttributeValues: { ":one": 1, ":a": agreed, ":d": 1 - agreed },
    }),
  );
  if (!outcome.disagreement) return;
  const entry: Disagreement = {
    ...outcome.disagreement,
    at: (outcome.at ?? new Date()).toISOString(),
    onlyPrimary: outcome.disagreement.onlyPrimary.slice(0, MAX_IDS_LISTED),
    onlyShadow: outcome.disagreement.onlyShadow.slice(0, MAX_IDS_LISTED),
  };
  try {
    await location.doc.send(
      new UpdateCommand({
        TableName: location.controlTable,
        Key: key,
        UpdateExpression: "SET disagreements = list_append(if_not_exists(disagreements, :empty), :entry)",
        ConditionExpression: "attribute_not_exists(disagreements) OR size(disagreements) < :max",
        ExpressionAttributeValues: { ":empty": [], ":entry": [entry], ":max": MAX_DISAGREEMENTS_KEPT },
      }),
    );
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
  }
}

/** The shadow-read evidence so far. */
export async function readShadowStats(location: ControlLocation): Promise<ShadowStats> {
  const out = await location.doc.send(
    new GetCommand({ TableName: location.controlTable, Key: { PK: migrationPk(location.migrationId), SK: ControlSk.shadow }, ConsistentRead: true }),
  );
  const item = out.Item ?? {};
  const compared = Number(item.compared ?? 0);
  const agreed = Number(item.agreed ?? 0);
  return {
    compared,
    agreed,
    disagreed: Number(item.disagreed ?? 0),
    errors: Number(item.errors ?? 0),
    ...(compared > 0 ? { agreement: agreed / compared } : {}),
    disagreements: Array.isArray(item.disagreements) ? (item.disagreements as Disagreement[]) : [],
  };
}
