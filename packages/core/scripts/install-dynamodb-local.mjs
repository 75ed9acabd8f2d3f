#!/usr/bin/env node
// Installs DynamoDB Local's jar at `npm ci` time, from the npm registry only.
//
// Why not a plain dependency: `amplify-dynamodb-simulator` (the npm package that ships the
// jar) pulls 283 packages / 347 MB of Amplify CLI code that ferry never runs. `npm pack`
// fetches just its tarball (~57 MB) through npm's own cache and registry settings; we
// check the tarball against a pinned integrity and keep only `emulator/` (jar + native
// sqlite4java libs). Nothing else is downloaded, and a second install is served from the
// npm cache.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGE = "amplify-dynamodb-simulator";
const VERSION = "2.9.30";
const INTEGRITY = "sha512-xTeeRLvzEfqyd5lh3bH4c0kHvSHHmmhD5ZDsHFKAQ5g2Zl6JqlFdutaQhCLHzxEp6Ry1o7TB6niIoXuQAnSewQ==";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const dest = process.env.FERRY_DYNAMODB_LOCAL_DIR ?? join(repoRoot, "node_modules", ".ferry", "dynamodb-local");
const marker = join(dest, "ferry-install.json");

function done() {
  if (!existsSync(marker) || !existsSync(join(dest, "DynamoDBLocal.jar"))) return false;
  const info = JSON.parse(readFileSync(marker, "utf8"));
  return info.package === PACKAGE && info.version === VERSION;
}

if (process.env.FERRY_SKIP_DYNAMODB_LOCAL === "1") {
  console.log("ferry: FERRY_SKIP_DYNAMODB_LOCAL=1, not installing DynamoDB Local (use --endpoint against AWS).");
  process.exit(0);
}
if (done()) {
  console.log(`ferry: DynamoDB Local already installed in ${dest}`);
  process.exit(0);
}

const work = mkdtempSync(join(tmpdir(), "ferry-ddb-local-"));
try {
  const npm = process.env.npm_execpath;
  const [cmd, args] = npm ? [process.execPath, [npm]] : ["npm", []];
  const out = execFileSync(cmd, [...args, "pack", `${PACKAGE}@${VERSION}`, "--json", "--pack-destination", work, "--ignore-scripts"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const [packed] = JSON.parse(out);
  if (packed.integrity !== INTEGRITY) {
    throw new Error(`integrity mismatch for ${PACKAGE}@${VERSION}: got ${packed.integrity}, pinned ${INTEGRITY}`);
  }
  execFileSync("tar", ["-xzf", join(work, packed.filename), "-C", work, "package/emulator"], { stdio: "inherit" });
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dirname(dest), { recursive: true });
  renameSync(join(work, "package", "emulator"), dest);
  writeFileSync(marker, JSON.stringify({ package: PACKAGE, version: VERSION, integrity: INTEGRITY }, null, 2));
  console.log(`ferry: installed DynamoDB Local from ${PACKAGE}@${VERSION} into ${dest}`);
} catch (err) {
  console.error(
    `ferry: could not install DynamoDB Local from the npm package ${PACKAGE}@${VERSION}: ${err instanceof Error ? err.message : err}\n` +
      "  Check that the npm registry is reachable and `tar` is installed, then run `npm rebuild` or\n" +
      "  `node packages/core/scripts/install-dynamodb-local.mjs`. Set FERRY_SKIP_DYNAMODB_LOCAL=1 to skip\n" +
      "  it when you only use ferry against AWS.",
  );
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
