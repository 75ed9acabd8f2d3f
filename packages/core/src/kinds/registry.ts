/**
 * Which module implements a migration's kind. The only place that lists the kinds' modules;
 * everything else asks `kindOf(migration)`.
 */
import type { Migration } from "../definition/define-migration.ts";
import type { KindName, MigrationKind } from "./kind.ts";
import { attributesKind } from "./attributes.ts";
import { recordsKind } from "./records.ts";
import { tableKind } from "./table.ts";

const KINDS: Partial<Record<KindName, MigrationKind>> = {
  records: recordsKind,
  attributes: attributesKind,
  table: tableKind,
};

/** The module of `migration`'s kind. */
export function kindOf(migration: Pick<Migration, "kind">): MigrationKind {
  const kind = KINDS[migration.kind ?? "records"];
  if (!kind) throw new Error(`No module implements the migration kind "${migration.kind}" (kinds/registry.ts lists them)`);
  return kind;
}
