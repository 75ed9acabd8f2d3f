/**
 * What index records carrying the listed fields cost the dual-write: the same workflow
 * changes (an application's mix: task edits, status, rename, assignees, contexts) as stream
 * records, applied by the real dual-write (createDualWriter, the handler's logic) to each
 * design's records (one table holds both), batches of 10 alternating between the designs. Reports per change: records
 * written, AWS write units (1 per started KB of each put, 1 per delete) and the apply time.
 */
import type { AttributeValue as LambdaAttributeValue, DynamoDBRecord } from "aws-lambda";
import { marshall } from "@aws-sdk/util-dynamodb";
import { type Migration, createDualWriter, itemSize, loadMigration } from "@ferry/core";
import { planStreamRecord } from "@ferry/core/dualwrite/plan";
import { contextId, generateWorkflows } from "@ferry/example-workflows";
import { contextIndexWithFields } from "@ferry/example-workflows/reads/context-index-fields";
import { type Engine, median, round, type seedShape, timed } from "./common.ts";

/** Share of each kind of change in the mix (sums to 1). */
export const CHANGE_MIX = { taskEdit: 0.4, status: 0.25, rename: 0.1, assignees: 0.1, contexts: 0.15 } as const;
type Change = keyof typeof CHANGE_MIX;

export interface DesignCost {
  /** Changes that wrote or deleted records (the rest the dual-write skipped as unchanged). */
  appliedShare: number;
  recordsPerChange: number;
  writeUnitsPerChange: number;
  msPerChange: number;
  /** Bytes of one index record (median). */
  recordBytes: number;
}

export interface DualWriteCost {
  changes: number;
  batchSize: number;
  batchGet: DesignCost;
  indexFields: DesignCost;
}

const BATCH = 10;

function changeKind(i: number): Change {
  let x = (((i * 0.618034) % 1) + 1) % 1;
  for (const [k, share] of Object.entries(CHANGE_MIX) as [Change, number][]) {
    if (x < share) return k;
    x -= share;
  }
  return "taskEdit";
}

function changed(w: Record<string, unknown>, kind: Change, i: number, pool: number): Record<string, unknown> {
  const next = structuredClone(w);
  if (kind === "taskEdit") {
    const tasks = next.tasks as Record<string, unknown>[];
    if (tasks[0]) tasks[0].notes = `edited ${i}`;
  } else if (kind === "status") next.status = next.status === "COMPLETED" ? "IN_PROGRESS" : "COMPLETED";
  else if (kind === "rename") next.name = `${String(next.name)} (${i})`;
  else if (kind === "assignees") next.assignees = [...(next.assignees as string[]), `user-${i}`];
  else {
    const contexts = next.contexts as { id: string; name: string }[];
    contexts[0] = { id: contextId((i * 31) % pool), name: "moved" };
  }
  return next;
}

const image = (item: Record<string, unknown>) => marshall(item, { removeUndefinedValues: true }) as unknown as Record<string, LambdaAttributeValue>;

export async function measureDualWriteCost(
  engine: Engine,
  /** The table holding both designs' records, and its control table. */
  at: { table: string; controlTable: string },
  shape: ReturnType<typeof seedShape>,
  changes: number,
  rep: number,
): Promise<DualWriteCost> {
  const migrations: Record<"batchGet" | "indexFields", Migration> = { batchGet: await loadMigration("0001"), indexFields: contextIndexWithFields };
  const workflows: Record<string, unknown>[] = [];
  const skip = (rep - 1) * changes;
  for (const w of generateWorkflows(shape)) {
    if (workflows.length >= skip + changes) break;
    workflows.push(w as Record<string, unknown>);
  }
  const records: DynamoDBRecord[] = workflows.slice(skip).map((w, i) => {
    const kind = changeKind(i);
    return {
      eventID: `bench-${rep}-${i}`,
      eventName: "MODIFY",
      dynamodb: {
        Keys: image({ PK: w.PK, SK: w.SK }),
        OldImage: image(w),
        NewImage: image(changed(w, kind, i, shape.pool)),
        SequenceNumber: String(1e9 + i),
        ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
        StreamViewType: "NEW_AND_OLD_IMAGES",
      },
    };
  });
  const out = {} as Record<"batchGet" | "indexFields", DesignCost>;
  const times: Record<"batchGet" | "indexFields", number[]> = { batchGet: [], indexFields: [] };
  const writers = Object.fromEntries(
    (["batchGet", "indexFields"] as const).map((d) => [
      d,
      createDualWriter({ migration: migrations[d], doc: engine.clients.doc, tableName: at.table, controlTable: at.controlTable }),
    ]),
  ) as Record<"batchGet" | "indexFields", ReturnType<typeof createDualWriter>>;
  for (let i = 0; i < records.length; i += BATCH) {
    const batch = records.slice(i, i + BATCH);
    for (const d of i % (2 * BATCH) ? (["indexFields", "batchGet"] as const) : (["batchGet", "indexFields"] as const)) {
      const { ms } = await timed(async () => {
        const b = writers[d].startBatch(batch);
        for (const r of batch) await b.handle(r);
        await b.finish();
      });
      times[d].push(ms / batch.length);
    }
  }
  for (const d of ["batchGet", "indexFields"] as const) {
    let applied = 0;
    let written = 0;
    let units = 0;
    const sizes: number[] = [];
    for (const r of records) {
      const plan = planStreamRecord(migrations[d], r);
      if (plan.kind !== "apply") continue;
      applied++;
      written += plan.puts.length + plan.deletes.length;
      for (const put of plan.puts) {
        const bytes = itemSize(put as Record<string, unknown>);
        sizes.push(bytes);
        units += Math.ceil(bytes / 1024);
      }
      units += plan.deletes.length;
    }
    out[d] = {
      appliedShare: round(applied / records.length, 3),
      recordsPerChange: round(written / records.length, 3),
      writeUnitsPerChange: round(units / records.length, 3),
      msPerChange: round(median(times[d]), 3),
      recordBytes: Math.round(median(sizes)),
    };
  }
  return { changes: records.length, batchSize: BATCH, ...out };
}
