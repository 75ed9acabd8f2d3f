/**
 * Verify's recheck, shared by every kind: a defect found beside live writes may only be the
 * dual-write not there yet, so the defects are judged again after `recheckAfterMs`, up to
 * `rechecks` times, and only those that persist are reported (`beforeRecheck` keeps the first
 * counts). How a kind judges again is its own: the records and attributes kinds re-read their
 * suspects (`rereadSuspects`), the table kind scans both tables again.
 */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { type Migration, keysOf } from "../definition/define-migration.ts";
import { type ReadStats, batchGetItems } from "../dynamo/batch-get.ts";
import { sleep } from "../util/backoff.ts";
import { VerifyTally } from "./tally.ts";
import type { VerifyOptions, VerifyReport } from "./verifier.ts";

/** Judges the tally again: the next tally, or undefined when there is nothing left to judge. */
export type JudgeAgain = (last: VerifyTally) => Promise<VerifyTally | undefined>;

/** Rechecks `scanned` until clean, out of rechecks, or `again` has nothing to judge. */
export async function recheckUntilClean(
  o: VerifyOptions,
  scanned: VerifyTally,
  again: JudgeAgain,
  canJudge: (last: VerifyTally) => boolean = () => true,
): Promise<{ tally: VerifyTally; beforeRecheck?: NonNullable<VerifyReport["beforeRecheck"]> }> {
  if (o.recheckAfterMs <= 0 || scanned.clean || !canJudge(scanned)) return { tally: scanned };
  const c = scanned.counts;
  const beforeRecheck = { missing: c.missing, orphans: c.orphans, different: c.different, invalidSources: c.invalidSources, rechecks: 0 };
  let current = scanned;
  while (!current.clean && canJudge(current) && beforeRecheck.rechecks < o.rechecks) {
    await sleep(o.recheckAfterMs);
    beforeRecheck.rechecks++;
    const next = await again(current);
    if (!next) break;
    current = next;
  }
  return { tally: current, beforeRecheck };
}

/**
 * Re-reads the last tally's suspects (consistent BatchGet) and judges them with `judge`; the
 * next tally keeps the scan's totals, with the defects that persisted.
 */
export function rereadSuspects(
  ctx: { doc: DynamoDBDocumentClient; tableName: string; migration: Migration; o: VerifyOptions; stats: ReadStats },
  scanned: VerifyTally,
  maxSuspects: number,
  judge: (tally: VerifyTally, items: Record<string, unknown>[]) => Promise<void>,
): JudgeAgain {
  return async (last) => {
    const suspects = last.suspects();
    if (!suspects) return undefined;
    const items = [...(await batchGetItems(ctx.doc, ctx.tableName, keysOf(ctx.migration), suspects, { backoff: ctx.o.backoff, stats: ctx.stats })).values()];
    const next = new VerifyTally(ctx.o.examples, maxSuspects);
    await judge(next, items);
    const { missing, orphans, different, invalidSources } = next.counts;
    Object.assign(next.counts, scanned.counts, { missing, orphans, different, invalidSources });
    return next;
  };
}
