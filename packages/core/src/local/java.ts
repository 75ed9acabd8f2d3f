/** Finds a usable Java runtime for DynamoDB Local, or explains how to get one. */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { FerryError } from "../errors.ts";

export class JavaMissingError extends FerryError {
  constructor(
    readonly javaPath: string,
    reason: string,
  ) {
    super(
      `Java was not found (${javaPath}: ${reason}). DynamoDB Local needs Java 17 or newer: install it ` +
        "(Debian/Ubuntu: `sudo apt-get install openjdk-17-jre-headless`; macOS: `brew install openjdk@17`) " +
        "or set JAVA_HOME, or run ferry against another DynamoDB with --endpoint / AWS_ENDPOINT_URL_DYNAMODB.",
    );
  }
}

export class JavaTooOldError extends FerryError {
  constructor(
    readonly javaPath: string,
    readonly major: number,
  ) {
    super(`${javaPath} is Java ${major}; DynamoDB Local 1.25 needs Java 17 or newer. Install it or set JAVA_HOME.`);
  }
}

/** The java executable: explicit path, else $JAVA_HOME/bin/java, else `java` on PATH. */
export function resolveJava(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return explicit ?? (env.JAVA_HOME ? join(env.JAVA_HOME, "bin", "java") : "java");
}

/** Checks that `javaPath` runs and is Java 17+; returns its major version. */
export function checkJava(javaPath: string): number {
  const out = spawnSync(javaPath, ["-version"], { encoding: "utf8", timeout: 15_000 });
  if (out.error) {
    const code = (out.error as NodeJS.ErrnoException).code ?? out.error.message;
    throw new JavaMissingError(javaPath, code === "ENOENT" ? "no such executable" : String(code));
  }
  const text = `${out.stderr}${out.stdout}`;
  const match = /version "(\d+)(?:\.(\d+))?/.exec(text);
  if (out.status !== 0 || !match) throw new JavaMissingError(javaPath, `\`${javaPath} -version\` failed: ${text.trim()}`);
  // Java 8 and older report "1.8"; the major is then the second number.
  const major = match[1] === "1" ? Number(match[2]) : Number(match[1]);
  if (major < 17) throw new JavaTooOldError(javaPath, major);
  return major;
}
