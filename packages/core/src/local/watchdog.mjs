// Runs DynamoDB Local as its own child and kills it when the parent goes away.
//
// Why a separate process: if the ferry process is killed with SIGKILL, its exit handlers
// never run and a directly spawned java process would be orphaned. This watchdog holds a
// pipe from the parent on stdin; the pipe closes whenever the parent dies, for any reason,
// and the watchdog then stops java. Plain JS so it starts fast without tsx.
import { spawn } from "node:child_process";

const [java, ...args] = process.argv.slice(2);
const child = spawn(java, args, { stdio: ["ignore", "inherit", "inherit"] });
let stopping = false;

function stop() {
  if (stopping) return;
  stopping = true;
  child.kill("SIGTERM");
  // The JVM normally exits within a second on SIGTERM; never leave it behind.
  setTimeout(() => child.kill("SIGKILL"), 3000).unref();
}

child.on("error", (err) => {
  process.stderr.write(`ferry-watchdog: could not start ${java}: ${err.message}\n`);
  process.exit(127);
});
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
process.stdin.on("end", stop);
process.stdin.on("error", stop);
process.stdin.resume();
for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(sig, stop);
