import { type DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { DynamoClients } from "../../aws/dynamodb.ts";
import { OWNER_ATTRIBUTE, SourceMatchError, sameRecord } from "../../definition/derive.ts";
import { type Migration, keysOf } from "../../definition/define-migration.ts";
import { isSourceItem, sourceKeyFilter } from "../../definition/source.ts";
import type { ReadStats } from "../../dynamo/batch-get.ts";
import { keyOf } from "../../dynamo/key-schema.ts";
import { TableNotFoundError, isMissingTable } from "../../dynamo/missing-table.ts";
import { type RepairCounts, ZERO_REPAIRS } from "../../verify/repair.ts";
import { recheckUntilClean, rereadSuspects } from "../../verify/recheck.ts";
import { VerifyTally } from "../../verify/tally.ts";
import { MAX_RECHECK_SUSPECTS, type VerifyOptions, type VerifyReport, openVerify } from "../../verify/verifier.ts";
import { invalidReason } from "../../verify/page.ts";
import { type OwnedAttributes, deriveAttributes, ownedNames, ownedOf } from "./derive.ts";
import { type IndexInfo, indexOf, ownedIndexKeys } from "./gsi.ts";
import { IndexSample, checkIndex } from "./index-check.ts";
import { updateOwned } from "./update.ts";

/** How verify judges one item. */
export type AttributesJudgement =
  | { state: "other" }
  | { state: "invalid"; reason: string }
  | { state: "judged"; source: boolean; desired: OwnedAttributes; defects: { kind: "missing" | "different" | "orphan"; attribute: string; detail: string }[] };

/** Judges one item as it is stored. */
export function judgeAttributes(migration: Migration, item: Record<string, unknown>, index?: IndexInfo): AttributesJudgement {
  if (OWNER_ATTRIBUTE in item) return { state: "other" };
  let source: boolean;
  try {
    source = isSourceItem(migration, item);
  } catch (err) {
    if (err instanceof SourceMatchError) return { state: "invalid", reason: invalidReason(err) ?? err.message };
    throw err;
  }
  const held = ownedOf(migration, item);
  if (!source && Object.keys(held).length === 0) return { state: "other" };
  let desired: OwnedAttributes = {};
  if (source) {
    try {
      desired = deriveAttributes(migration, item, { indexKeys: ownedIndexKeys(migration, index) });
    } catch (err) {
      const reason = invalidReason(err);
      if (reason === undefined) throw err;
      return { state: "invalid", reason };
    }
  }
  const defects: { kind: "missing" | "different" | "orphan"; attribute: string; detail: string }[] = [];
  for (const name of ownedNames(migration)) {
    const want = desired[name];
    const have = held[name];
    if (want === undefined && have === undefined) continue;
    if (have === undefined) defects.push({ kind: "missing", attribute: name, detail: `attribute ${name}: derive sets it, the item lacks it` });
    else if (want === undefined) {
      defects.push({
        kind: "orphan",
        attribute: name,
        detail: source ? `attribute ${name}: the item holds it, derive sets none` : `attribute ${name}: the item is not a source item of ${migration.id}`,
      });
    } else if (!sameRecord({ v: have }, { v: want })) {
      defects.push({ kind: "different", attribute: name, detail: `attribute ${name}: holds ${JSON.stringify(have)}, derive gives ${JSON.stringify(want)}` });
    }
  }
  return { state: "judged", source, desired, defects };
}

interface PassContext {
  doc: DynamoDBDocumentClient;
  tableName: string;
  migration: Migration;
  index?: IndexInfo;
  o: VerifyOptions;
  stats: ReadStats;
  repairs?: RepairCounts;
  sample?: IndexSample;
}

/** Judges (and with ctx.repairs, repairs) the items of one page into `tally`. */
async function judgePage(ctx: PassContext, tally: VerifyTally, items: Record<string, unknown>[]): Promise<void> {
  const keys = keysOf(ctx.migration);
  const c = tally.counts;
  const fixes: { item: Record<string, unknown>; desired: OwnedAttributes; set: number; removed: number }[] = [];
  c.scanned += items.length;
  for (const item of items) {
    const key = keyOf(keys, item);
    const judged = judgeAttributes(ctx.migration, item, ctx.index);
    if (judged.state === "other") {
      c.other++;
      continue;
    }
    if (judged.state === "invalid") {
      c.sources++;
      tally.defect({ kind: "invalidSource", key, detail: judged.reason });
      continue;
    }
    if (judged.source) c.sources++;
    if (Object.keys(ownedOf(ctx.migration, item)).length > 0) c.derived++;
    c.expected += Object.keys(judged.desired).length;
    if (judged.source) ctx.sample?.add(item, judged.desired);
    for (const d of judged.defects) tally.defect({ kind: d.kind, key, owner: key, detail: d.detail });
    if (judged.defects.length > 0) {
      const set = judged.defects.filter((d) => d.kind !== "orphan").length;
      fixes.push({ item, desired: judged.desired, set, removed: judged.defects.length - set });
    }
  }
  const repairs = ctx.repairs;
  if (!repairs || fixes.length === 0) return;
  const stats = { calls: 0, consumedWriteUnits: 0 };
  for (let i = 0; i < fixes.length; i += 16) {
    await Promise.all(
      fixes.slice(i, i + 16).map(async (fix) => {
        const outcome = await updateOwned(ctx.doc, ctx.tableName, ctx.migration, fix.item, fix.desired, { backoff: ctx.o.backoff, stats });
        if (outcome === "written") {
          repairs.put += fix.set;
          repairs.deleted += fix.removed;
        } else repairs.skipped += fix.set + fix.removed;
      }),
    );
  }
  ctx.stats.consumedWriteUnits += stats.consumedWriteUnits;
}

async function scanPass(ctx: PassContext): Promise<VerifyTally> {
  const { o } = ctx;
  const tally = new VerifyTally(o.examples, o.recheckAfterMs > 0 && !ctx.repairs ? MAX_RECHECK_SUSPECTS : 0);
  let stop = false;
  const segment = async (index: number) => {
    let start: Record<string, unknown> | undefined;
    do {
      const page = await ctx.doc.send(
        new ScanCommand({
          TableName: ctx.tableName,
          Segment: index,
          TotalSegments: o.segments,
          Limit: o.pageSize,
          ExclusiveStartKey: start,
          ConsistentRead: true,
          ReturnConsumedCapacity: "TOTAL",
          ...sourceKeyFilter(ctx.migration),
        }),
      );
      ctx.stats.consumedReadUnits += page.ConsumedCapacity?.CapacityUnits ?? 0;
      await judgePage(ctx, tally, page.Items ?? []);
      o.onPage?.(tally.counts, ctx.repairs ? "repair" : "verify");
      start = page.LastEvaluatedKey;
    } while (start && !stop);
  };
  const outcomes = await Promise.allSettled(
    Array.from({ length: o.segments }, (_, i) =>
      segment(i).catch((err) => {
        stop = true;
        throw err;
      }),
    ),
  );
  const failure = outcomes.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failure) {
    if (isMissingTable(failure.reason)) throw new TableNotFoundError(ctx.tableName);
    throw failure.reason;
  }
  return tally;
}

/** Verifies (and with `repair`, repairs) an attributes migration on `tableName`: the kind's MigrationKind.verify. */
export async function verifyAttributes(
  clients: Pick<DynamoClients, "doc">,
  tableName: string,
  migration: Migration,
  options: Partial<VerifyOptions> = {},
): Promise<VerifyReport> {
  const opened = await openVerify(clients, tableName, migration, options);
  const { o, started, stats, described } = opened;
  migration = opened.migration;
  const index = migration.index ? indexOf(described, migration.index) : undefined;
  const sample = index ? new IndexSample(migration, index) : undefined;
  const base = { doc: clients.doc, tableName, migration, o, stats, ...(index ? { index } : {}) };
  const scanned = await scanPass({ ...base, ...(sample ? { sample } : {}) });
  const again = rereadSuspects(base, scanned, MAX_RECHECK_SUSPECTS, (tally, items) => judgePage(base, tally, items));
  const { tally: found, beforeRecheck } = await recheckUntilClean(o, scanned, again, (t) => t.suspects() !== undefined);
  const c = found.counts;
  let repaired: RepairCounts | undefined;
  if (o.repair) {
    repaired = { ...ZERO_REPAIRS };
    if (c.missing + c.orphans + c.different > 0) await scanPass({ ...base, repairs: repaired });
  }
  // Checked after any repair, on the table as it is then.
  const indexCheck = migration.index ? await checkIndex(clients.doc, tableName, migration, index, sample, o, stats) : undefined;
  return {
    migrationId: migration.id,
    tableName,
    segments: o.segments,
    pageSize: o.pageSize,
    ...c,
    examples: found.examples(),
    clean: found.clean && (!indexCheck || indexCheck.mismatched === 0),
    elapsedMs: Date.now() - started,
    consumedReadUnits: stats.consumedReadUnits,
    consumedWriteUnits: stats.consumedWriteUnits,
    ...(beforeRecheck ? { beforeRecheck } : {}),
    ...(repaired ? { repaired } : {}),
    ...(indexCheck ? { index: indexCheck } : {}),
  };
}
