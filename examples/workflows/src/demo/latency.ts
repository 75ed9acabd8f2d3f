/**
 * "Workflows by context" latency as a client sees it: real HTTP requests to the API server,
 * v1 and v2 interleaved on the same contexts, p50/p95 of the wall time.
 */
export interface LatencyStats {
  requests: number;
  p50Ms: number;
  p95Ms: number;
  /** Workflows returned per request, on average. */
  meanItems: number;
}

/** The q-quantile (0..1) of sorted values, nearest rank. */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

export function summarize(durations: number[], items: number[]): LatencyStats {
  const sorted = [...durations].sort((a, b) => a - b);
  return {
    requests: durations.length,
    p50Ms: quantile(sorted, 0.5),
    p95Ms: quantile(sorted, 0.95),
    meanItems: items.length ? items.reduce((a, b) => a + b, 0) / items.length : 0,
  };
}

/** Times `GET /v1|/v2/workflows?context=` for each context, interleaved, after one warm-up each. */
export async function measureByContext(baseUrl: string, token: string, contexts: string[], limit = 100): Promise<Record<"v1" | "v2", LatencyStats>> {
  const samples = { v1: { ms: [] as number[], items: [] as number[] }, v2: { ms: [] as number[], items: [] as number[] } };
  const call = async (version: "v1" | "v2", context: string) => {
    const started = performance.now();
    const response = await fetch(`${baseUrl}/${version}/workflows?context=${encodeURIComponent(context)}&limit=${limit}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const body = (await response.json()) as { items?: unknown[]; error?: { message: string } };
    if (!response.ok) throw new Error(`GET /${version}/workflows -> ${response.status}: ${body.error?.message}`);
    return { ms: performance.now() - started, items: body.items?.length ?? 0 };
  };
  const first = contexts[0];
  if (first) await Promise.all([call("v1", first), call("v2", first)]);
  for (const context of contexts) {
    for (const version of ["v1", "v2"] as const) {
      const { ms, items } = await call(version, context);
      samples[version].ms.push(ms);
      samples[version].items.push(items);
    }
  }
  return { v1: summarize(samples.v1.ms, samples.v1.items), v2: summarize(samples.v2.ms, samples.v2.items) };
}
