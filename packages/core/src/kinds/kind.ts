/**
 * The one interface every kind of migration implements, as pgroll keeps one file per
 * operation: what the dual-write writes for a stream record, what a backfill page writes and
 * under which condition, what verify compares and repairs, what rollback deletes, what
 * remove cleans, and what the design step checks and costs. The lifecycle, the CLI, the
 * Lambda handlers and the local runtime call these and never ask which kind they hold.
 *
 * A new kind is one new file (kinds/<name>.ts) exporting an object of this type, plus its
 * name in KIND_NAMES and its entry in kinds/registry.ts; README "Migration kinds" says how.
 */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { DynamoDBRecord } from "aws-lambda";
import type { DynamoClients } from "../aws/dynamodb.ts";
import type { PageRequest, PageResult } from "../backfill/page.ts";
import type { SweepTask } from "../cleanup/sweep.ts";
import type { DerivedRecord, Migration } from "../definition/define-migration.ts";
import type { DeriveOptions } from "../definition/derive.ts";
import type { ApplyOptions, WindowResult } from "../dualwrite/applier.ts";
import type { RecordPlan } from "../dualwrite/plan.ts";
import type { BatchWriteStats } from "../dynamo/batch-write.ts";
import type { GuardRefusedError } from "../lifecycle/guards.ts";
import type { BackoffOptions } from "../util/backoff.ts";
import type { VerifyOptions, VerifyReport } from "../verify/verifier.ts";

/** The kinds ferry knows; a migration file picks one with `kind` (default "records"). */
export const KIND_NAMES = ["records", "attributes", "table"] as const;
export type KindName = (typeof KIND_NAMES)[number];

/** The plan of one stream record that writes something (RecordPlan's "apply"). */
export type ApplyPlan = Extract<RecordPlan, { kind: "apply" }>;

/**
 * Collects the plans of one dual-write window: plans that write disjoint keys go out together;
 * `merge` may fold a later change of a source item already in the window into its entry.
 * dualwrite/applier.ts's ApplyWindow is the records kind's.
 */
export interface KindWindow<T> {
  readonly entries: { plan: ApplyPlan; tag: T; merged: number }[];
  fits(plan: ApplyPlan): boolean;
  add(plan: ApplyPlan, tag: T): void;
  merge(plan: ApplyPlan): boolean;
  readonly coalesced: boolean;
  readonly size: number;
}

/** Where the dual-write of a migration writes: the source table (the stream's) and ferry's clients. */
export interface DualWriteTarget {
  doc: DynamoDBDocumentClient;
  /** The source table (whose stream is read). */
  tableName: string;
  /** Bound to its tables (definition/table-keys.ts). */
  migration: Migration;
}

/** What the sweeps of rollback and remove need. */
export interface KindSweepContext {
  clients: Pick<DynamoClients, "doc" | "raw">;
  /** The source table. */
  tableName: string;
  controlTable: string;
  /** Bound to its tables (definition/table-keys.ts). */
  migration: Migration;
  backoff?: BackoffOptions;
}

/** What the lifecycle's kind guards read. */
export interface KindGuardContext {
  clients: DynamoClients;
  tableName: string;
  controlTable: string;
  /** Bound to its tables (definition/table-keys.ts). */
  migration: Migration;
}

/** What `ferry check` and `plan` learn from running a kind's derive on one item. */
export interface DerivedSummary {
  /** Writes the derived state is (records put, or 1 for an update in place). */
  writes: number;
  /** Bytes of each write as stored (a record, or the whole item after an update in place). */
  writeBytes: number[];
  /** The keys the derived state occupies, as `keyId` strings, for collision checks (empty for attributes). */
  keyIds: string[];
  /** True when the writes update the source item in place (attributes): no validation read, no transaction. */
  inPlace?: boolean;
}

/**
 * One kind of migration. Every method receives the migration bound to its tables by
 * definition/table-keys.ts migrationOnTable (the source's keys, and a target's).
 */
export interface MigrationKind {
  readonly name: KindName;

  /** Problems with the kind's own fields of a validated spec (path + message, like zod's); [] when fine. */
  specIssues(migration: Migration): { path: string; message: string }[];

  // ---- design: check and plan ----
  /** Runs derive on one source item the way every step does, validated; throws the definition's errors. */
  summarize(migration: Migration, item: Record<string, unknown>, run?: (call: () => unknown) => unknown): DerivedSummary;
  /**
   * check's view of one item's derived state as records, for its determinism, schema-read and
   * size comparisons (default: deriveRecords). Attributes: one record, the item's key and the
   * derived attributes. Throws the definition's errors.
   */
  deriveForCheck?(migration: Migration, item: Record<string, unknown>, options: DeriveOptions): DerivedRecord[];

  // ---- add: the dual-write ----
  /** What one stream record means; throws a poison error (dualwrite/plan.ts isPoisonError) when it cannot be derived. */
  planStreamRecord(migration: Migration, record: DynamoDBRecord): RecordPlan;
  /** An empty window for this migration's plans. */
  newWindow<T>(migration: Migration): KindWindow<T>;
  /** Writes one window's plans, conditionally; see dualwrite/applier.ts for the contract of WindowResult. */
  applyWindow(target: DualWriteTarget, plans: readonly ApplyPlan[], options: ApplyOptions, stats?: BatchWriteStats): Promise<WindowResult>;

  // ---- convert: one backfill page ----
  convertPage(doc: DynamoDBDocumentClient, tableName: string, migration: Migration, request: PageRequest, backoff?: BackoffOptions): Promise<PageResult>;

  // ---- verify ----
  verify(clients: Pick<DynamoClients, "doc">, tableName: string, migration: Migration, options: Partial<VerifyOptions>): Promise<VerifyReport>;

  // ---- rollback of add: what ferry wrote, and nothing else ----
  /** The sweeps that undo the derived state, run in order; each is resumable (cleanup/sweep.ts). */
  rollbackTasks(ctx: KindSweepContext): SweepTask<unknown>[];

  // ---- remove: after v1 is retired and the backup is taken ----
  /**
   * The sweep that cleans the source once nothing reads v1 (cleanup.removeAttributes, or the
   * table kind's migrated source items), writing what it drops to `backupFile` when given;
   * undefined when the file asks for no cleanup.
   */
  removeTask(ctx: KindSweepContext & { backupFile?: string }): SweepTask<unknown> | undefined;

  // ---- guards the kind adds to the lifecycle's ----
  /** Refusals before add starts (a missing index or target table). */
  addProblems(ctx: KindGuardContext): Promise<GuardRefusedError[]>;
  /** Refusals before the first move to v2 (an index not ACTIVE or not answering); `verified`: the verify the move just ran. */
  moveProblems(ctx: KindGuardContext, verified?: VerifyReport): Promise<GuardRefusedError[]>;
}
