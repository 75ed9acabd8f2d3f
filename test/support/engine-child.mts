// A child process that starts DynamoDB Local, reports the java pid, then misbehaves as
// told ("hang" | "throw" | "exit") so tests can check that no java process survives it.
import { startDynamoDBLocal } from "@ferry/core";

const mode = process.argv[2] ?? "hang";
const engine = await startDynamoDBLocal();
process.stdout.write(`${JSON.stringify({ javaPid: engine.javaPid, endpoint: engine.endpoint })}\n`);
if (mode === "throw") throw new Error("boom after start");
if (mode === "exit") process.exit(3);
setInterval(() => {}, 1 << 30);
