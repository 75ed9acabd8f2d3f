/**
 * Finds and loads migration files from `migrations/`. Every failure names the file and
 * says what to fix; nothing is half-loaded.
 */
import { existsSync, readdirSync } from "node:fs";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { UsageError } from "../errors.ts";
import { InvalidMigrationError, MIGRATION_ID_PATTERN, type Migration } from "./define-migration.ts";

/** The repository's migrations folder, or FERRY_MIGRATIONS_DIR. */
export function defaultMigrationsDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.FERRY_MIGRATIONS_DIR ?? resolve(dirname(fileURLToPath(import.meta.url)), "../../../../migrations");
}

export class MigrationNotFoundError extends UsageError {
  constructor(
    readonly ref: string,
    readonly dir: string,
    readonly available: string[],
  ) {
    super(
      `No migration matches "${ref}" in ${dir}. ` +
        (available.length ? `Available: ${available.join(", ")}.` : "There are none yet: create one with `ferry new <name>`."),
    );
  }
}

export class AmbiguousMigrationError extends UsageError {
  constructor(
    readonly ref: string,
    readonly matches: string[],
  ) {
    super(`"${ref}" matches several migrations (${matches.join(", ")}); use the full id.`);
  }
}

export class MigrationLoadError extends UsageError {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`Cannot load migration ${file}: ${reason}`);
  }
}

/** Migration ids (file names without .ts) in `dir`, sorted. */
export function listMigrationIds(dir = defaultMigrationsDir()): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts") && MIGRATION_ID_PATTERN.test(f.slice(0, -3)))
    .map((f) => f.slice(0, -3))
    .sort();
}

/** Resolves "0001", "workflow-context-index", a full id or a path to a migration file. */
export function resolveMigrationFile(ref: string, dir = defaultMigrationsDir()): string {
  if (ref.endsWith(".ts")) {
    const file = isAbsolute(ref) ? ref : resolve(ref);
    if (!existsSync(file)) throw new MigrationNotFoundError(ref, dirname(file), listMigrationIds(dirname(file)));
    return file;
  }
  const ids = listMigrationIds(dir);
  const matches = ids.filter((id) => id === ref || id.startsWith(`${ref}_`) || id.slice(5) === ref);
  if (matches.length === 0) throw new MigrationNotFoundError(ref, dir, ids);
  if (matches.length > 1) throw new AmbiguousMigrationError(ref, matches);
  return join(dir, `${matches[0]}.ts`);
}

/** Imports and validates one migration file. */
export async function loadMigrationFile(file: string): Promise<Migration> {
  const name = basename(file);
  let mod: { default?: unknown };
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (err) {
    if (err instanceof InvalidMigrationError) throw err.inFile(name);
    throw new MigrationLoadError(name, loadFailureReason(err));
  }
  const migration = mod.default as Migration | undefined;
  if (!migration || typeof migration !== "object" || typeof (migration as Migration).derive !== "function") {
    throw new MigrationLoadError(name, "it must `export default defineMigration({...})`.");
  }
  const expectedId = name.slice(0, -3);
  if (migration.id !== expectedId) {
    throw new InvalidMigrationError([{ path: "id", message: `expected "${expectedId}" (the file name), got "${migration.id}"` }], name);
  }
  return migration;
}

/** Loads a migration by reference (see resolveMigrationFile). */
export async function loadMigration(ref: string, dir = defaultMigrationsDir()): Promise<Migration> {
  return loadMigrationFile(resolveMigrationFile(ref, dir));
}

/** Loads every migration in `dir`, in order. */
export async function loadAllMigrations(dir = defaultMigrationsDir()): Promise<Migration[]> {
  const out: Migration[] = [];
  for (const id of listMigrationIds(dir)) out.push(await loadMigrationFile(join(dir, `${id}.ts`)));
  return out;
}

/** One line saying why an import failed; esbuild puts the position on the line after its header. */
function loadFailureReason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // Strip terminal colours some transformers add.
  const lines = err.message.replace(/\u001b\[[0-9;]*m/g, "").split("\n").map((l) => l.trim()).filter(Boolean);
  const first = lines[0] ?? err.message;
  if (/^Transform failed with \d+ errors?:$/.test(first) && lines[1]) return lines[1].replace(/^.*\//, "");
  return first;
}
