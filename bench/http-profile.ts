/**
 * Where the HTTP layer's time goes on one v2 "workflows by context" request: the stages of
 * the API (auth, release lookup, usage counter, the read, the rest of the app: routing,
 * validation, JSON) timed by wrapping the API's dependencies from outside, the app called
 * in-process (`app.fetch`, no socket), and a bare Node HTTP server answering the same JSON
 * bytes (the transport alone: node:http on both ends, on loopback); through `fetch` beside it.
 * bench/by-context.ts runs it on every design and repetition.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { ApiDeps } from "../examples/workflows/src/api/app.ts";
import { createApiApp } from "../examples/workflows/src/api/app.ts";
import { type ApiItem, type WorkflowReader, emptyStats } from "../examples/workflows/src/reads/view.ts";
import { median, round, timed } from "./common.ts";
import type { HttpClient } from "./http-client.ts";

/** Medians (ms) of each stage, over `requests` v2 requests. */
export interface HttpProfile {
  requests: number;
  /** Through the socket: the benchmark's keep-alive node:http client (./http-client.ts) + the server + the app. */
  httpMs: number;
  /** The same through `fetch` (undici): what that client adds. */
  fetchMs: number;
  /** The app alone: `app.fetch(Request)` in-process, body read. */
  inProcessMs: number;
  /** A bare node:http server answering the same bytes, through the same client. */
  transportMs: number;
  /** Stages inside the app. */
  authMs: number;
  releaseMs: number;
  counterMs: number;
  readMs: number;
  /** inProcess minus the stages: routing, parameter checks, the nextToken, c.json. */
  restMs: number;
  /** JSON.stringify of the answer alone. */
  jsonMs: number;
  /** The app in-process with the read answered from memory (the last real answer): the app's own cost, free of the engine's noise. */
  appOwnMs: number;
  /** The same with the tenant resolver answered from memory too: appOwnMs minus this is what token verification costs. */
  appOwnNoAuthMs: number;
  answerBytes: number;
}

export type StageTimings = Record<"auth" | "release" | "counter" | "read", number[]>;

/**
 * Wraps the stages of `deps` with timers, in place: call it before the app is built from
 * `deps` (an app may keep the functions it was given). A stage the app no longer calls
 * stays empty and shows as NaN.
 */
export function instrumentDeps(deps: ApiDeps): StageTimings {
  const t: StageTimings = { auth: [], release: [], counter: [], read: [] };
  const tenant = deps.tenant;
  deps.tenant = async (c) => {
    const r = await timed(() => tenant(c));
    t.auth.push(r.ms);
    return r.value;
  };
  const release = deps.releases.byContext;
  const get = release.get.bind(release);
  release.get = async () => {
    const r = await timed(get);
    t.release.push(r.ms);
    return r.value;
  };
  const record = release.usage.record.bind(release.usage);
  release.usage.record = (version) => {
    const started = performance.now();
    const counted = record(version);
    const ready = counted.ready.finally(() => t.counter.push(performance.now() - started));
    return { ...counted, ready };
  };
  const v2 = deps.readers.v2;
  const list = v2.listByContext.bind(v2);
  v2.listByContext = async (request) => {
    const r = await timed(() => list(request));
    t.read.push(r.ms);
    return r.value;
  };
  return t;
}

/**
 * Profiles `requests` v2 requests over `paths` (e.g. `/v2/workflows?context=...&limit=100`):
 * over the running server at `url` (built from `deps` after instrumentDeps gave `t`),
 * in-process on a second app over the same deps, and the bare transport, alternating the
 * three so all see the same engine state; then the app with the read from memory.
 */
export async function profileHttpLayer(
  deps: ApiDeps,
  t: StageTimings,
  url: string,
  paths: string[],
  headers: Record<string, string>,
  requests: number,
  client: HttpClient,
): Promise<HttpProfile> {
  for (const list of Object.values(t)) list.length = 0;
  const app = createApiApp(deps);
  const http: number[] = [];
  const viaFetch: number[] = [];
  const inProcess: number[] = [];
  const transport: number[] = [];
  const json: number[] = [];
  let body = "";
  const bare = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((resolve) => bare.listen(0, "127.0.0.1", resolve));
  const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}/`;
  try {
    for (let i = 0; i < requests; i++) {
      const path = paths[i % paths.length] as string;
      const viaHttp = await timed(async () => (await client.get(`${url}${path}`, headers)).text);
      http.push(viaHttp.ms);
      body = viaHttp.value;
      viaFetch.push((await timed(async () => (await fetch(`${url}${path}`, { headers })).text())).ms);
      inProcess.push((await timed(async () => (await app.fetch(new Request(`http://local${path}`, { headers }))).text())).ms);
      transport.push((await timed(async () => (await client.get(bareUrl, {})).text)).ms);
      const parsed = JSON.parse(body) as unknown;
      json.push((await timed(async () => JSON.stringify(parsed))).ms);
    }
  } finally {
    await new Promise<void>((resolve) => bare.close(() => resolve()));
  }
  // The app's own cost: the same requests with the read (and then the auth) answered from memory.
  const canned = await (async () => {
    const res = await app.fetch(new Request(`http://local${paths[0]}`, { headers }));
    return { items: ((await res.json()) as { items: ApiItem[] }).items };
  })();
  const stubRead: WorkflowReader = { ...deps.readers.v2, listByContext: async () => ({ items: canned.items, stats: emptyStats() }) };
  const ownApp = createApiApp({ ...deps, readers: { ...deps.readers, v2: stubRead } });
  const tenant = await deps.tenant({ req: { header: (name: string) => headers[name.toLowerCase()] } } as never);
  const noAuthApp = createApiApp({ ...deps, readers: { ...deps.readers, v2: stubRead }, tenant: async () => tenant });
  const own: number[] = [];
  const noAuth: number[] = [];
  for (let i = 0; i < requests * 3; i++) {
    const path = paths[i % paths.length] as string;
    own.push((await timed(async () => (await ownApp.fetch(new Request(`http://local${path}`, { headers }))).text())).ms);
    noAuth.push((await timed(async () => (await noAuthApp.fetch(new Request(`http://local${path}`, { headers }))).text())).ms);
  }
  const stages = { authMs: median(t.auth), releaseMs: median(t.release), counterMs: median(t.counter), readMs: median(t.read) };
  const inProcessMs = median(inProcess);
  return {
    requests,
    httpMs: round(median(http), 3),
    fetchMs: round(median(viaFetch), 3),
    inProcessMs: round(inProcessMs, 3),
    transportMs: round(median(transport), 3),
    authMs: round(stages.authMs, 3),
    releaseMs: round(stages.releaseMs, 3),
    counterMs: round(stages.counterMs, 3),
    readMs: round(stages.readMs, 3),
    restMs: round(inProcessMs - stages.authMs - stages.releaseMs - stages.counterMs - stages.readMs, 3),
    jsonMs: round(median(json), 3),
    appOwnMs: round(median(own), 3),
    appOwnNoAuthMs: round(median(noAuth), 3),
    answerBytes: Buffer.byteLength(body),
  };
}
