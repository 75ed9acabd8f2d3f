/**
 * `ferry new`: writes the next numbered migration file from a template whose comments teach
 * the format. The template loads and validates as written, so a new file is never broken.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MIGRATION_ID_PATTERN } from "../definition/define-migration.ts";
import { listMigrationIds } from "../definition/load.ts";
import { DEFAULT_MIGRATION_OPTIONS, type MigrationOptions } from "../definition/options.ts";
import type { KeyAttribute, KeySchema } from "../dynamo/key-schema.ts";
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

/** The table a new migration is written for: its name and key schema (`ferry new --table` reads them with DescribeTable). */
export interface ScaffoldTable {
  name: string;
  keys: KeySchema;
  /** The example's Workflows table (the CLI's default): the template selects its workflow items. */
  example?: boolean;
}

/** Writes `<dir>/NNNN_<kebab-name>.ts` from the template, for `table`; never overwrites. */
export function scaffoldMigration(name: string, dir: string, table: ScaffoldTable): ScaffoldResult {
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
    writeFileSync(file, migrationTemplate(id, table), { flag: "wx" });
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

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `item.pk`, or `item["my-key"]` for a name that is not an identifier. */
function field(name: string): string {
  return IDENTIFIER.test(name) ? `item.${name}` : `item[${JSON.stringify(name)}]`;
}

/** An object key in source: `pk`, or `"my-key"`. */
function prop(name: string): string {
  return IDENTIFIER.test(name) ? name : JSON.stringify(name);
}

const TYPE_WORDS: Record<KeyAttribute["type"], string> = { S: "string", N: "number", B: "binary (Uint8Array)" };

/** The template's source selection for a table keyed by `keys`: a prefix on a string key, else a match on an attribute. */
function sourceLines(keys: KeySchema, example: boolean): string {
  if (example) {
    return `  // Which items are source items: every item whose SK starts with skPrefix and, when given,
  // matches skPattern (anchored with ^). Narrow it so records you derive are never sources.
  // (Also possible: pkPrefix, and match: (item) => boolean on the raw item; all given must hold.)
  source: { skPrefix: "WF#", skPattern: /^WF#[^#]+$/ },`;
  }
  const head = `  // Which items are source items (all selectors given must hold): skPrefix / skPattern on the
  // sort key, pkPrefix on the partition key (prefixes on string keys only; the backfill's Scan
  // and the stream filter use them), and match(item), a pure predicate on the raw item (an
  // entity attribute such as _type or ElectroDB's __edb_e__). Narrow it so derived records are never sources.`;
  if (keys.sortKey?.type === "S") return `${head}\n  source: { skPrefix: "TODO#" },`;
  if (!keys.sortKey && keys.partitionKey.type === "S") return `${head}\n  source: { pkPrefix: "TODO#" },`;
  return `${head}\n  source: { match: (item) => item._type === "TODO" },`;
}

/** The template's example record, keyed in the table's names and types, on a key of its own. */
function recordLines(keys: KeySchema): string {
  const pk = keys.partitionKey;
  const sk = keys.sortKey;
  const text = (a: KeyAttribute) =>
    a.type === "S" ? field(a.name) : a.type === "N" ? `String(${field(a.name)})` : `Buffer.from(${field(a.name)}).toString("hex")`;
  const lines: string[] = [];
  if (sk?.type === "S") {
    lines.push(`${prop(pk.name)}: ${field(pk.name)},`, `${prop(sk.name)}: \`STATUS#\${item.status}#\${${text(sk)}}\`,`);
  } else if (sk) {
    // A non-string sort key is kept as is: the partition key makes the record's key its own.
    const partition =
      pk.type === "S"
        ? `\`\${${field(pk.name)}}#STATUS#\${item.status}\``
        : `${field(pk.name)} /* TODO: a ${TYPE_WORDS[pk.type]} partition of the record's own, not the source's */`;
    lines.push(`${prop(pk.name)}: ${partition},`, `${prop(sk.name)}: ${field(sk.name)},`);
  } else {
    const partition =
      pk.type === "S" ? `\`STATUS#\${item.status}#\${${field(pk.name)}}\`` : `${field(pk.name)} /* TODO: a ${TYPE_WORDS[pk.type]} key of the record's own */`;
    lines.push(`${prop(pk.name)}: ${partition},`);
  }
  lines.push(`from: ${text(sk ?? pk)},`);
  return lines.map((l) => `      ${l}`).join("\n");
}

function keysLine(keys: KeySchema): string {
  const attr = (a: KeyAttribute) => `{ name: ${JSON.stringify(a.name)}, type: "${a.type}" }`;
  return `keys: { partitionKey: ${attr(keys.partitionKey)}${keys.sortKey ? `, sortKey: ${attr(keys.sortKey)}` : ""} },`;
}

/** The text of a new migration file with id `id`, for `table` (its key names and types in `keys` and the example derive). */
export function migrationTemplate(id: string, table: ScaffoldTable): string {
  const { keys } = table;
  const example = table.example === true;
  const names = [keys.partitionKey, ...(keys.sortKey ? [keys.sortKey] : [])].map((a) => `${a.name} (${TYPE_WORDS[a.type]})`).join(" and ");
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
  // The table the migration runs on by default (--table, FERRY_TABLE or --stage name another).
  table: ${JSON.stringify(table.name)},
  // Its key schema: ${names}. A table whose keys differ is refused before anything is written.
  ${keysLine(keys)}

${sourceLines(keys, example)}

  // ONLY the fields derive reads. The backfill writes an item's records on the condition that
  // exactly these fields are unchanged since it read them, and the dual-write re-derives when
  // they change: a field derive reads but the schema omits would go stale silently. Fields
  // not listed here are stripped before derive sees the item.
  schema: z.object({
    status: z.string(),
  }),

  // derive(item) gets the schema's fields plus the key attributes (${names}), and returns
  // the complete set of records this item owns, each with its own key in those names and types.
  // - Pure and deterministic: same fields in, same records out (no clocks, no randomness,
  //   no I/O), because the dual-write, the backfill and verify each call it and must agree.
  // - It owns its records: ferry stamps each with its owner, so no two items may derive the
  //   same key. Put the source item's id in the key (seed 000's SK = CTX#<id> collided).
  // - Keys must not match the source (its prefixes, pattern and match); each record stays under 400 KB.
  derive: (item) => [
    {
${recordLines(keys)}
    },
  ],

  // Optional: attributes the remove step deletes from source items once readers moved.
  // cleanup: { removeAttributes: ["status"] },

  // Optional: edge-case items of the table (a few hand-written or generated ones) that
  // \`ferry check\` and the add step's plan guard run derive on before touching real data.
  // checkItems: () => [{ ${example ? 'PK: "tenant-1", SK: "WF#1"' : "...a key of the table..."}, status: "TO_DO" }],

  // Optional tuning; these are the defaults.
  options: {
${optionLines()}
  },
});
`;
}
