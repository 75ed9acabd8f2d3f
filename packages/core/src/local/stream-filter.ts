/**
 * Lambda event filtering for the local mapping: evaluates `FilterCriteria` patterns against
 * the Lambda-shaped record exactly where Lambda does (before batching), so the handler sees
 * the same records locally as on AWS. Supports exact values, prefix, suffix, exists,
 * anything-but and equals-ignore-case; any other operator is refused up front.
 */
import { FerryError } from "../errors.ts";
import type { FilterPattern, FilterRule, StreamSettings } from "../dualwrite/stream-settings.ts";

/** A filter pattern the local mapping cannot evaluate the way Lambda would. */
export class UnsupportedFilterError extends FerryError {
  constructor(
    readonly pattern: string,
    readonly problem: string,
  ) {
    super(`Cannot evaluate the filter pattern ${pattern} locally: ${problem}. Use exact values, prefix, suffix, exists, anything-but or equals-ignore-case.`);
  }
}

/** A compiled set of filters: true when a record matches any of them (no filters: every record). */
export type RecordFilter = (record: unknown) => boolean;

const OPERATORS = new Set(["prefix", "suffix", "exists", "anything-but", "equals-ignore-case"]);

/** Compiles `settings.filterCriteria`, refusing patterns Lambda would evaluate differently than this code. */
export function compileFilterCriteria(criteria: StreamSettings["filterCriteria"] | undefined): RecordFilter {
  const patterns = (criteria?.filters ?? []).map((f) => parsePattern(f.pattern));
  if (patterns.length === 0) return () => true;
  return (record) => patterns.some((pattern) => matchesPattern(pattern, record));
}

function parsePattern(text: string): FilterPattern {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UnsupportedFilterError(text, `not JSON (${(err as Error).message})`);
  }
  checkPattern(text, parsed);
  return parsed as FilterPattern;
}

function checkPattern(text: string, node: unknown): void {
  if (!isObject(node)) throw new UnsupportedFilterError(text, "every level must be an object whose leaves are arrays of rules");
  for (const value of Object.values(node)) {
    if (!Array.isArray(value)) {
      checkPattern(text, value);
      continue;
    }
    for (const rule of value) {
      if (!isObject(rule)) continue;
      const keys = Object.keys(rule);
      const op = keys[0];
      if (keys.length !== 1 || op === undefined || !OPERATORS.has(op)) {
        throw new UnsupportedFilterError(text, `unsupported rule ${JSON.stringify(rule)}`);
      }
    }
  }
}

/** True when `record` matches `pattern` (all fields of the pattern, any rule of each leaf). */
export function matchesPattern(pattern: FilterPattern, record: unknown): boolean {
  if (!isObject(record)) return false;
  for (const [field, expected] of Object.entries(pattern)) {
    const present = Object.hasOwn(record, field);
    const value = record[field];
    if (Array.isArray(expected)) {
      if (!expected.some((rule) => matchesRule(rule, present, value))) return false;
    } else if (!present || !matchesPattern(expected, value)) {
      return false;
    }
  }
  return true;
}

function matchesRule(rule: FilterRule, present: boolean, value: unknown): boolean {
  if (isObject(rule) && "exists" in rule) return rule.exists === present;
  if (!present) return false;
  // Like Lambda, a rule matches an array field when it matches one of its elements.
  const values = Array.isArray(value) ? value : [value];
  return values.some((v) => matchesScalar(rule, v));
}

function matchesScalar(rule: FilterRule, value: unknown): boolean {
  if (!isObject(rule)) return rule === value;
  if ("prefix" in rule) return typeof value === "string" && typeof rule.prefix === "string" && value.startsWith(rule.prefix);
  if ("suffix" in rule) return typeof value === "string" && typeof rule.suffix === "string" && value.endsWith(rule.suffix);
  if ("equals-ignore-case" in rule) {
    const want = rule["equals-ignore-case"];
    return typeof value === "string" && typeof want === "string" && value.toLowerCase() === want.toLowerCase();
  }
  if ("anything-but" in rule) {
    const excluded = rule["anything-but"];
    return !(Array.isArray(excluded) ? excluded : [excluded]).includes(value);
  }
  return false;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
