/**
 * The API on a local HTTP server (`ferry serve`, the demo, the tests): the same Hono app the
 * Lambda entry serves, behind @hono/node-server, with locally verified HS256 tokens.
 */
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { type ApiDeps, createApiApp } from "./app.ts";

export interface LocalApiServer {
  /** e.g. http://127.0.0.1:4000 */
  url: string;
  port: number;
  deps: ApiDeps;
  /** Stops accepting requests, waits for background work, flushes the counters. */
  close(): Promise<void>;
}

export interface LocalServerOptions {
  /** 0 picks a free port. */
  port: number;
  hostname: string;
}

export const DEFAULT_LOCAL_SERVER_OPTIONS: LocalServerOptions = { port: 4000, hostname: "127.0.0.1" };

export async function startLocalApiServer(deps: ApiDeps, options: Partial<LocalServerOptions> = {}): Promise<LocalApiServer> {
  const o = { ...DEFAULT_LOCAL_SERVER_OPTIONS, ...options };
  const app = createApiApp(deps);
  const { server, port } = await new Promise<{ server: ReturnType<typeof serve>; port: number }>((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port: o.port, hostname: o.hostname }, (info: AddressInfo) => resolve({ server, port: info.port }));
    server.once("error", reject);
  });
  return {
    url: `http://${o.hostname}:${port}`,
    port,
    deps,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive connections would hold close() open.
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await deps.background.drain();
      await Promise.all([deps.releases.byContext.usage.flush(), deps.releases.workflow.usage.flush()]);
    },
  };
}
