/** `ferry token --tenant <id>`: prints an HS256 development token for the local API. */
import { UsageError, tenantProblem } from "@ferry/core";
import { DEV_TOKEN_TTL_SECONDS, MAX_TOKEN_LIFETIME_SECONDS, signDevToken } from "@ferry/example-workflows";
import { Command } from "commander";
import { parseInteger } from "../options.ts";
import { requireJwtSecret } from "./serve.ts";

export function tokenCommand(): Command {
  return new Command("token")
    .description("Print a development JWT (HS256, FERRY_JWT_SECRET) whose tenant claim the local API serves")
    .requiredOption("--tenant <id>", "the tenant the token grants, e.g. tenant-0001")
    .option("--ttl <seconds>", "lifetime", parseInteger(1, MAX_TOKEN_LIFETIME_SECONDS), DEV_TOKEN_TTL_SECONDS)
    .option("--json", "print { token, tenant, expiresAt }")
    .addHelpText(
      "after",
      `
Only for local development: on AWS the HTTP API's JWT authorizer validates tokens from your identity provider.

Example:
  $ export FERRY_JWT_SECRET=dev-secret-change-me-please
  $ curl -H "Authorization: Bearer $(npx ferry token --tenant tenant-0001)" "http://127.0.0.1:4000/workflows?context=ctx-00001"`,
    )
    .action(async (opts: { tenant: string; ttl: number; json?: boolean }) => {
      // The server would answer 401 to it: refuse to issue it.
      const problem = tenantProblem(opts.tenant);
      if (problem) throw new UsageError(`--tenant ${problem}; pass the tenant id the token grants, e.g. --tenant tenant-0001.`);
      const token = await signDevToken(requireJwtSecret(), opts.tenant, { ttlSeconds: opts.ttl });
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ token, tenant: opts.tenant, expiresAt: new Date(Date.now() + opts.ttl * 1000).toISOString() })}\n`);
      } else process.stdout.write(`${token}\n`);
    });
}
