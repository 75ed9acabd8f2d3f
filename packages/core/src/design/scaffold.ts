/**
 * `ferry new`: writes the next numbered migration file from a template whose comments teach
 * the format. The template loads and validates as written, so a new file is never broken.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MIGRATION_ID_PATTERN } from "../definition/define-migration.ts";
import { listMigrationIds } from "../definition/load.ts";
import { DEFAULT_MIGRATION_OPTIONS, type MigrationOptions } from "../definition/options.ts";
import { UsageError } from "../errors.ts";

/** A name that leaves nothing once kebab-cased, or one that is too long. */
export class InvalidMigrationNameError extends UsageError {
  constructor(readonly requested: string) {
    super(
      `"${requested}" cannot name a migration: use letters and digits, e.g. \`ferry new "index workflows by status"\` ` +
        `(at most ${MAX_NAME_LENGTH} characters once kebab-cased).`,
    );
  }
}

/** A migration with the same name (or the same file) exists already. */
export class MigrationExistsError extends UsageError {
  constructor(
    readonly file: string,
    readonly existingId: string,
  ) {
    super(`Migration ${existingId} already exists (${file}); edit it, or pick another name.`);
  }
}

/** All 9999 numbers are taken. */
export class MigrationNumbersExhaustedError extends UsageError {
  constructor(readonly dir: string) {
    super(`${dir} already holds migration 9999; there is no next number.`);
  }
}

export const MAX_NAME_LENGTH = 60;

export interface ScaffoldResult {
  id: string;
  file: string;
}

/** "Index workflows by Status!" -> "index-workflows-by-status"; camelCase is split too. */
export function kebabCase(name: string): string {
  return name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/([a-z0-9])([A-Z])/g, "$1-$2")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
}

/** The number after the highest one in `dir` ("0001" for an empty or missing folder). */
export function nextMigrationNumber(dir: string): string {
  const highest = listMigrationIds(dir).reduce((max, id) => Math.max(max, Number(id.slice(0, 4))), 0);
  if (highest >= 9999) throw new MigrationNumbersExhaustedError(dir);
  return String(highest + 1).padStart(4, "0");
}

/** Writes `<dir>/NNNN_<kebab-name>.ts` from the template; never overwrites. */
export function scaffoldMigration(name: string, dir: string): ScaffoldResult {
  const slug = kebabCase(name);
  if (slug === "" || slug.length > MAX_NAME_LENGTH) throw new InvalidMigrationNameError(name);
  const existing = listMigrationIds(dir).find((id) => id.slice(5) === slug);
  // Same name under another number would make `ferry plan <name>` ambiguous.
  if (existing) throw new MigrationExistsError(join(dir, `${existing}.ts`), existing);
  const id = `${nextMigrationNumber(dir)}_${slug}`;
  if (!MIGRATION_ID_PATTERN.test(id)) throw new InvalidMigrationNameError(name);
  const file = join(dir, `${id}.ts`);
  mkdirSync(dir, { recursive: true });
  if (existsSync(file)) throw new MigrationExistsError(file, id);
  try {
    writeFileSync(file, migrationTemplate(id), { flag: "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") throw new MigrationExistsError(file, id);
    throw err;
  }
  return { id, file };
}

// Kept beside the template so that a new option cannot be added without being documented here.
const OPTION_HELP: Record<keyof MigrationOptions, string> = {
  rate: "backfill rate cap across all segments, source items per second",
  segments: "parallel Scan segments of the backfill",
  pageSize: "source items per backfill page (Scan Limit)",
  maxRecordsPerItem: "most records one source item may own; more fails the item",
  streamBatchSize: "stream records per dual-write batch",
  streamMaxRetries: "retries of a failing stream record before it is dead-lettered",
  streamMaxRecordAgeSeconds: "stream records older than this are dead-lettered, not retried",
};

function optionLines(): string {
  const entries = Object.entries(DEFAULT_MIGRATION_OPTIONS) as [keyof MigrationOptions, number][];
  const width = Math.max(...entries.map(([k, v]) => `${k}: ${v},`.length));
  return entries.map(([k, v]) => `    // ${`${k}: ${v},`.padEnd(width)} ${OPTION_HELP[k]}`).join("\n");
}

/** The text of a new migration file with id `id`. */
export function migrationTemplate(id: string): string {
  return `/**
 * TODO: say in a sentence or two what this migration changes and why: the access pattern it
 * serves, the old shape, the new one.
 *
 * Lifecycle: \`ferry check ${id}\` (derive on generated and sampled items), \`ferry plan ${id}\`
 * (cost and duration), then add (dual-write), convert (backfill), verify, move readers, remove.
 */
import { defineMigration } from "@ferry/core";
import { z } from "zod";

export default defineMigration({
  // NNNN_kebab-name, equal to this file's name without .ts.
  id: "${id}",
  description: "TODO: one sentence that ferry prints with the id",
  // The logical table the migration runs on.
  table: "Workflows",

  // Which items are source items: every item whose SK starts with skPrefix and, when given,
  // matches skPattern (anchored with ^). Narrow it so records you derive are never sources.
  source: { skPrefix: "WF#", skPattern: /^WF#[^#]+$/ },

  // ONLY the fields derive reads. The backfill writes an item's records on the condition that
  // exactly these fields are unchanged since it read them, and the dual-write re-derives when
  // they change: a field derive reads but the schema omits would go stale silently. Fields
  // not listed here are stripped before derive sees the item.
  schema: z.object({
    status: z.string(),
  }),

  // derive(item) gets the schema's fields plus PK and SK, and returns the complete set of
  // records this item owns, each with its own PK and SK.
  // - Pure and deterministic: same fields in, same records out (no clocks, no randomness,
  //   no I/O), because the dual-write, the backfill and verify each call it and must agree.
  // - It owns its records: ferry stamps each with its owner, so no two items may derive the
  //   same key. Put the source item's id in the key (seed 000's SK = CTX#<id> collided).
  // - Keys must not match the source (skPrefix/skPattern); each record stays under 400 KB.
  derive: (item) => [
    {
      PK: item.PK,
      SK: \`STATUS#\${item.status}#\${item.SK}\`,
      workflow: item.SK,
    },
  ],

  // Optional: attributes the remove step deletes from source items once readers moved.
  // cleanup: { removeAttributes: ["status"] },

  // Optional: edge-case items of the table (a few hand-written or generated ones) that
  // \`ferry check\` and the add step's plan guard run derive on before touching real data.
  // checkItems: () => [{ PK: "tenant-1", SK: "WF#1", status: "TO_DO" }],

  // Optional tuning; these are the defaults.
  options: {
${optionLines()}
  },
});
`;
}
