/**
 * What a migration's kind says about it, for people: the kind and what it owns (its records,
 * the attributes it sets and the index they feed, or the table it copies into) and what
 * remove deletes. `ferry status`, `check` and `plan` print it; their --json carries it.
 */
import type { Migration, MigrationKindName } from "../definition/define-migration.ts";

/** A migration's kind and what it owns, from its file (a `table` migration bound to a target shows that target). */
export interface KindStatus {
  name: MigrationKindName;
  /** kind attributes: the attributes ferry owns on the source items. */
  attributes?: string[];
  /** kind attributes: the global secondary index they feed. */
  index?: string;
  /** kind table: the table the records are copied into. */
  target?: string;
  /** What remove deletes once nothing reads v1. */
  cleanup?: { removeAttributes?: string[]; deleteSourceItems?: boolean };
}

export function kindStatus(migration: Pick<Migration, "kind" | "attributes" | "index" | "target" | "cleanup">): KindStatus {
  return {
    name: migration.kind ?? "records",
    ...(migration.attributes ? { attributes: [...migration.attributes] } : {}),
    ...(migration.index ? { index: migration.index } : {}),
    ...(migration.target ? { target: migration.target.table } : {}),
    ...(migration.cleanup ? { cleanup: migration.cleanup } : {}),
  };
}

/** One line: `attributes byStatusPk, byStatusSk (index byStatus)`, `table -> WorkflowsByContext`, `records`. */
export function describeKind(kind: KindStatus): string {
  if (kind.name === "attributes") return `attributes ${kind.attributes?.join(", ") ?? "?"}${kind.index ? ` (index ${kind.index})` : ""}`;
  if (kind.name === "table") return `table -> ${kind.target ?? "?"}`;
  return kind.name;
}

/** The long form: what the kind owns, then what remove deletes. */
export function describeKindDetail(k: KindStatus): string {
  const owns =
    k.name === "attributes"
      ? `attributes ${k.attributes?.join(", ") ?? "?"} on the source items${k.index ? `, feeding index ${k.index}` : ""}`
      : k.name === "table"
        ? `table: records copied into ${k.target ?? "?"}`
        : "records: new records in the same table, each owned by a source item";
  const removes = [
    k.cleanup?.removeAttributes ? `attributes ${k.cleanup.removeAttributes.join(", ")}` : "",
    k.cleanup?.deleteSourceItems ? "the migrated source items (after a backup)" : "",
  ].filter(Boolean);
  return removes.length ? `${owns}; remove deletes ${removes.join(" and ")}` : owns;
}
