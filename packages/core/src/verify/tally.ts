/**
 * What verify keeps while it scans: counters and, per kind of defect, only the first N
 * examples, so memory stays flat however large the table or however broken the data.
 */
import type { ItemKey } from "../definition/define-migration.ts";
import { keyText } from "../definition/derive.ts";

/** The kinds of defect verify reports. */
export type VerifyDefect = "missing" | "orphan" | "different" | "invalidSource";

export const VERIFY_DEFECTS: Record<VerifyDefect, string> = {
  missing: "missing records (derived by a source item, not in the table)",
  orphan: "orphan records (stamped by the migration, not derived by their owner)",
  different: "different records (present, attributes differ from derive)",
  invalidSource: "invalid source items (schema or derive fails)",
};

/** One defect, with the key to look at and why. */
export interface VerifyExample {
  kind: VerifyDefect;
  key: ItemKey;
  /** The source item that owns (or should own) the record. */
  owner?: ItemKey;
  detail: string;
}

/** Counters of a verify run; a run's counters are the sum of its pages'. */
export interface VerifyCounts {
  /** Items read by the scan. */
  scanned: number;
  /** Source items of the migration among them. */
  sources: number;
  /** Records stamped by this migration among them. */
  derived: number;
  /** Everything else: other entities, other migrations' records. */
  other: number;
  /** Records the valid source items derive. */
  expected: number;
  missing: number;
  orphans: number;
  different: number;
  invalidSources: number;
  /** Stamped records whose owner is an invalid source: not judged (see invalidSources). */
  unchecked: number;
}

export const ZERO_COUNTS: VerifyCounts = {
  scanned: 0,
  sources: 0,
  derived: 0,
  other: 0,
  expected: 0,
  missing: 0,
  orphans: 0,
  different: 0,
  invalidSources: 0,
  unchecked: 0,
};

const COUNTER_OF: Record<VerifyDefect, keyof VerifyCounts> = {
  missing: "missing",
  orphan: "orphans",
  different: "different",
  invalidSource: "invalidSources",
};

/** Counts defects and keeps the first `limit` examples of each kind. */
export class VerifyTally {
  readonly counts: VerifyCounts = { ...ZERO_COUNTS };
  private readonly kept = new Map<VerifyDefect, VerifyExample[]>();
  private readonly suspectKeys = new Map<string, ItemKey>();
  private suspectsOverflow = false;

  /** `maxSuspects`: items remembered for a recheck (0: none); beyond it no recheck is possible. */
  constructor(
    readonly limit: number,
    readonly maxSuspects = 0,
  ) {}

  /** Counts one defect; keeps its example while there is room for its kind. */
  defect(example: VerifyExample): void {
    this.counts[COUNTER_OF[example.kind]]++;
    if (this.maxSuspects > 0) {
      // The item whose re-read re-judges the defect: the source for missing/different, the record for an orphan.
      const item = example.kind === "missing" || example.kind === "different" ? (example.owner ?? example.key) : example.key;
      // Keys come from keyOf (schema order), so their text is a stable id.
      if (this.suspectKeys.size < this.maxSuspects) this.suspectKeys.set(keyText(item), item);
      else if (!this.suspectKeys.has(keyText(item))) this.suspectsOverflow = true;
    }
    const list = this.kept.get(example.kind) ?? [];
    if (list.length < this.limit) list.push(example);
    this.kept.set(example.kind, list);
  }

  /** Examples in a stable order: by kind, then key (segments finish in any order). */
  examples(): VerifyExample[] {
    const order = Object.keys(VERIFY_DEFECTS) as VerifyDefect[];
    return order.flatMap((kind) =>
      [...(this.kept.get(kind) ?? [])].sort((a, b) => (keyText(a.key) < keyText(b.key) ? -1 : keyText(a.key) > keyText(b.key) ? 1 : 0)),
    );
  }

  /** Items to re-read to re-judge every defect, or undefined when there were too many to remember. */
  suspects(): ItemKey[] | undefined {
    return this.suspectsOverflow ? undefined : [...this.suspectKeys.values()];
  }

  /** True when no defect of any kind was counted. */
  get clean(): boolean {
    const c = this.counts;
    return c.missing + c.orphans + c.different + c.invalidSources === 0;
  }
}
