/**
 * The benchmark's HTTP client for timed API requests: node:http with one keep-alive socket,
 * the transport the AWS SDK itself uses for the engine's calls, so v2 and its floor cross the
 * same kind of client. `fetch` (undici) adds 0.4-0.8 ms per request on loopback here
 * (bench/probe-v2-floor.ts); bench/http-profile.ts still times it beside this one.
 */
import { Agent, request } from "node:http";

export interface HttpClient {
  get(url: string, headers: Record<string, string>): Promise<{ status: number; text: string }>;
  close(): void;
}

export function keepAliveClient(): HttpClient {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  return {
    get: (url, headers) =>
      new Promise((resolve, reject) => {
        const req = request(url, { agent, headers }, (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => {
            text += chunk;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
          res.on("error", reject);
        });
        req.on("error", reject);
        req.end();
      }),
    close: () => agent.destroy(),
  };
}
