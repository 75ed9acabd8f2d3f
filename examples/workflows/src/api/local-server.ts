/**
 * The API on a local HTTP server (`ferry serve`, the demo, the tests): the same Hono app the
 * Lambda entry serves, behind @hono/node-server, with locally verified HS256 tokens.
 */
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { serve } from "@hono/node-server";
import { type ApiDeps, createApiApp } from "./app.ts";

export interface LocalApiServer {
  /** e.g. http://127.0.0.1:4000 */
  url: string;
  port: number;
  deps: ApiDeps;
  /** Stops accepting requests, waits for background work, flushes the counters and records the clean stop. */
  close(): Promise<void>;
}

export interface LocalServerOptions {
  /** 0 picks a free port. */
  port: number;
  hostname: string;
}

export const DEFAULT_LOCAL_SERVER_OPTIONS: LocalServerOptions = { port: 4000, hostname: "127.0.0.1" };

/**
 * Requests Node's HTTP parser rejects before the app sees them (a 60 KB URL, a malformed
 * request line): answered with the API's JSON error body instead of Node's empty one.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || (socket as Duplex & { _httpMessage?: unknown })._httpMessage) return void socket.destroy();
  const tooLarge = err.code === "HPE_HEADER_OVERFLOW";
  const [status, reason, code, message] = tooLarge
    ? [
        431,
        "Request Header Fields Too Large",
        "headers_too_large",
        "The request's URL and headers exceed the server's limit (16 KB); shorten the URL (query parameters) or the headers.",
      ]
    : [400, "Bad Request", "bad_request", "The HTTP request could not be parsed."];
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export async function startLocalApiServer(deps: ApiDeps, options: Partial<LocalServerOptions> = {}): Promise<LocalApiServer> {
  const o = { ...DEFAULT_LOCAL_SERVER_OPTIONS, ...options };
  const app = createApiApp(deps);
  const { server, port } = await new Promise<{ server: ReturnType<typeof serve>; port: number }>((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port: o.port, hostname: o.hostname }, (info: AddressInfo) => resolve({ server, port: info.port }));
    server.once("error", reject);
    server.on("clientError", answerClientError);
  });
  // Flush on a timer: the last requests before traffic stops must not wait for a next request.
  const counters = Object.values(deps.releases).map((release) => release.usage);
  for (const counter of counters) counter.start();
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
      // Flushes and records the clean stop, so the remove guard stops counting on this server.
      await Promise.all(counters.map((counter) => counter.stop()));
    },
  };
}
