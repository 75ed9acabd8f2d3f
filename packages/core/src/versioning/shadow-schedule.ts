/**
 * Shadow comparisons of a read route: for the release's shadow share of first-page requests
 * (a nextToken belongs to one version), the other version's handler runs after the answer,
 * in the background, and release/shadow.ts compares and re-checks the ids. The route says
 * what must agree (`ids`); by default the ids of `items` (a list) or the `id` (one item); a
 * 404 is an empty answer.
 */
import { ApiError } from "../api/errors.ts";
import type { ReleaseConfig } from "../release/config.ts";
import type { ApiVersion } from "../release/config.ts";
import { type ShadowRecheckOptions, runShadowComparison } from "../release/shadow.ts";
import type { ReleaseCache } from "../release/cache.ts";
import type { Background } from "./background.ts";

/** What a route declares about its shadow comparison; `false` never shadows it. */
export type ShadowSpec<Out> =
  | false
  | {
      /** What must agree between the versions, as strings compared as sets (default {@link defaultIds}). */
      ids?: (body: Out) => string[];
      /** The route's name in disagreement records (default `GET /widgets/{id}?color`). */
      route?: string;
    };

/** `items[].id` of a list answer, `[id]` of a single one, [] otherwise. */
export function defaultIds(body: unknown): string[] {
  if (body === null || typeof body !== "object") return [];
  const { items, id } = body as { items?: unknown; id?: unknown };
  if (Array.isArray(items)) return items.map((item) => String((item as { id?: unknown } | null)?.id));
  return id === undefined ? [] : [String(id)];
}

/** Whether this request is one of the shadow share (never once v1 is retired: there is nothing to compare with). */
export function wantsShadow(config: ReleaseConfig, random: () => number): boolean {
  return !config.v1RetiredAt && config.shadowPercent > 0 && random() * 100 < config.shadowPercent;
}

/** A 404 answers "nothing": compared as no ids. */
export async function idsOf<Out>(run: () => Promise<Out>, ids: (body: Out) => string[]): Promise<string[]> {
  try {
    return ids(await run());
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return [];
    throw err;
  }
}

export function scheduleShadow(
  background: Background,
  release: ReleaseCache,
  recheck: ShadowRecheckOptions,
  comparison: { route: string; tenant: string; primary: ApiVersion; primaryIds: string[]; readIds: (version: ApiVersion) => Promise<string[]> },
): void {
  background.run(async () => {
    await runShadowComparison(release.location, comparison, recheck);
  });
}
