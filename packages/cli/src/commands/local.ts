/** `ferry local`: runs DynamoDB Local in the foreground until Ctrl-C. */
import { DEFAULT_DYNAMODB_LOCAL_OPTIONS, startDynamoDBLocal } from "@ferry/core";
import { Command } from "commander";
import { parseInteger } from "../options.ts";
import { isShuttingDown, onShutdown, untilSignal } from "../shutdown.ts";

export function localCommand(): Command {
  return new Command("local")
    .description("Run DynamoDB Local (the embedded engine) in the foreground until Ctrl-C")
    .option("--port <port>", "port to listen on (0 picks a free one)", parseInteger(0, 65535), 8000)
    .option("--db-path <dir>", "keep the database on disk in this folder (default: in memory)")
    .option("--heap <size>", "JVM max heap (-Xmx)", DEFAULT_DYNAMODB_LOCAL_OPTIONS.heap)
    .option("--verbose", "show the engine's own output")
    .option("--json", "print the endpoint as one JSON line (for scripts) instead of the text")
    .addHelpText(
      "after",
      `
Example:
  $ npx ferry local --port 8000
  # in another terminal:
  $ export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000
  $ npx ferry seed --workflows 1000`,
    )
    .action(async (opts: { port: number; dbPath?: string; heap: string; verbose?: boolean; json?: boolean }) => {
      const engine = await startDynamoDBLocal({
        port: opts.port,
        heap: opts.heap,
        verbose: Boolean(opts.verbose),
        ...(opts.dbPath ? { dbPath: opts.dbPath } : {}),
      });
      onShutdown(() => engine.stop());
      if (opts.json)
        process.stdout.write(`${JSON.stringify({ endpoint: engine.endpoint, inMemory: !opts.dbPath, ...(opts.dbPath ? { dbPath: opts.dbPath } : {}) })}\n`);
      else
        process.stdout.write(
          `DynamoDB Local is running (${opts.dbPath ? `on disk in ${opts.dbPath}` : "in memory"}).\n` +
            `  endpoint: ${engine.endpoint}\n` +
            `  use it:   export AWS_ENDPOINT_URL_DYNAMODB=${engine.endpoint}   (or pass --endpoint ${engine.endpoint})\n` +
            "Press Ctrl-C to stop.\n",
        );
      void engine.exited.then(() => {
        if (isShuttingDown()) return;
        process.stderr.write("ferry: DynamoDB Local exited unexpectedly; run with --verbose to see its output.\n");
        process.exit(1);
      });
      await untilSignal();
    });
}
