/** Tuning options a migration file may set; CLI flags default to these. */
import { z } from "zod";
import { BACKFILL_LIMITS } from "../backfill/settings.ts";

const { rate, segments, pageSize } = BACKFILL_LIMITS;

export const MigrationOptionsSchema = z
  .object({
    /** Backfill rate cap across all segments, in source items per second. */
    rate: z.number().min(rate.min).max(rate.max),
    /** Parallel Scan segments of the backfill. */
    segments: z.number().int().min(segments.min).max(segments.max),
    /** Source items per backfill page (Scan Limit). */
    pageSize: z.number().int().min(pageSize.min).max(pageSize.max),
    /** Most derived records one source item may own; more is an error. */
    maxRecordsPerItem: z.number().int().min(1).max(10_000),
    /** Stream records per dual-write batch (the event source mapping's BatchSize). */
    streamBatchSize: z.number().int().min(1).max(1_000),
    /** Retries of a failing stream record before it is dead-lettered. */
    streamMaxRetries: z.number().int().min(0).max(10_000),
    /** Stream records older than this are dead-lettered instead of retried (seconds). */
    streamMaxRecordAgeSeconds: z.number().int().min(60).max(604_800),
  })
  .strict();

export type MigrationOptions = z.infer<typeof MigrationOptionsSchema>;

export const DEFAULT_MIGRATION_OPTIONS: MigrationOptions = {
  rate: 1_000,
  segments: 4,
  pageSize: 100,
  maxRecordsPerItem: 100,
  streamBatchSize: 100,
  streamMaxRetries: 3,
  streamMaxRecordAgeSeconds: 3_600,
};
