// The CLI precompiled once per test run, for the many `ferry` processes the tests start: the
// real bin (packages/cli/bin/ferry.mjs) transforms every TypeScript module through tsx at each
// start, ~3 s of CPU on CI's two cores; the same sources bundled by esbuild (the transform tsx
// itself uses) start in ~0.6 s. Only the start-up differs: the code is the sources as they are,
// `import.meta.url` keeps each file's own path, and migration files (TypeScript, loaded at run
// time) still go through tsx, with their `@ferry/*` imports mapped onto the compiled modules so
// that a process holds one copy of the engine, as under the real bin. npm packages stay external
// (node loads them from node_modules). Tests that are about the bin itself spawn the real one.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { pathToFileURL } from "node:url";

const root = join(import.meta.dirname, "../..");

/** The test children spawned with `--import tsx` before (test/support/*.mts). */
export const TEST_CHILDREN = ["backfill-child", "engine-child"] as const;
export type TestChild = (typeof TEST_CHILDREN)[number];

/** Where the migration files the tests load live; their `@ferry/*` imports become entry points. */
const MIGRATION_DIRS = ["migrations", "test/fixtures"];

function files(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.m?ts$/.test(e.name) && !e.name.endsWith(".d.ts"))
    .map((e) => join(e.parentPath, e.name));
}

/**
 * The modules a migration file can import from ferry: the packages' main entries and every
 * `@ferry/<package>/<path>` the repository's migration files name. Each is an entry point, so
 * that it maps onto the compiled code (one copy of the engine per process). A module not listed
 * still loads, through tsx, as a second copy.
 */
function ferryModules(): string[] {
  const named = new Set(["@ferry/core", "@ferry/example-workflows"]);
  for (const file of MIGRATION_DIRS.flatMap(files)) {
    for (const m of readFileSync(file, "utf8").matchAll(/from "(@ferry\/[^"]+)"/g)) named.add(m[1]!);
  }
  const dirs: Record<string, string> = { "@ferry/core": "packages/core/src", "@ferry/example-workflows": "examples/workflows/src" };
  return [...named].flatMap((name) => {
    const [scope, pkg, ...rest] = name.split("/");
    const dir = dirs[`${scope}/${pkg}`];
    return dir ? [join(root, dir, rest.length ? `${rest.join("/")}.ts` : "index.ts")] : [];
  });
}

/** tsx's own esbuild, the one that transforms these sources under the real bin. */
function tsxEsbuild(): typeof import("esbuild") {
  const tsx = createRequire(join(root, "package.json")).resolve("tsx/esm/api");
  return createRequire(tsx)("esbuild");
}

/**
 * Compiles the CLI and the test children into a fresh folder under node_modules/.cache (inside
 * the repository, so the compiled modules resolve npm packages as the sources do); returns it.
 */
export async function compileCli(): Promise<string> {
  const cache = join(root, "node_modules/.cache");
  mkdirSync(cache, { recursive: true });
  const out = mkdtempSync(join(cache, "ferry-test-cli-"));
  const entries = [
    join(root, "packages/cli/src/main.ts"),
    ...TEST_CHILDREN.map((c) => join(root, `test/support/${c}.mts`)),
    ...ferryModules().filter((file) => existsSync(file)),
  ];
  await tsxEsbuild().build({
    entryPoints: entries,
    outdir: out,
    outbase: root,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    // Error classes name themselves after their constructor: bundling must not rename them.
    keepNames: true,
    logLevel: "warning",
    // Bundled CommonJS packages call require() for node's built-ins.
    banner: { js: 'import { createRequire as __ferryRequire } from "node:module"; const require = __ferryRequire(import.meta.url);' },
    plugins: [
      {
        name: "ferry-test-cli",
        setup(build) {
          // zod loads from node_modules, as under tsx: migration files build their schemas with
          // the very zod the engine checks them against (instanceof z.ZodObject).
          build.onResolve({ filter: /^zod(\/|$)/ }, (args) => ({ path: args.path, external: true }));
          // Each module keeps its own location (the ASL file, the watchdog, the migrations folder).
          build.onLoad({ filter: /\.m?ts$/ }, (args) => {
            const url = pathToFileURL(args.path).href;
            const text = readFileSync(args.path, "utf8")
              .replaceAll("import.meta.url", JSON.stringify(url))
              .replaceAll("import.meta.dirname", JSON.stringify(dirname(args.path)))
              .replaceAll("import.meta.filename", JSON.stringify(args.path));
            return { contents: text, loader: "ts" };
          });
        },
      },
    ],
  });
  // Source file URL -> compiled module URL, for the hook that maps migration files' imports.
  const compiled: Record<string, string> = {};
  for (const file of entries) {
    const target = join(out, relative(root, file)).replace(/\.m?ts$/, ".mjs");
    if (existsSync(target)) compiled[pathToFileURL(file).href] = pathToFileURL(target).href;
  }
  writeFileSync(join(out, "compiled.json"), JSON.stringify(compiled));
  writeFileSync(join(out, "resolve-hook.mjs"), RESOLVE_HOOK);
  writeFileSync(join(out, "register-ts.mjs"), REGISTER_TS);
  writeFileSync(join(out, "ferry.mjs"), FERRY_BIN);
  for (const child of TEST_CHILDREN) {
    writeFileSync(join(out, `${child}.mjs`), `import "./register-ts.mjs";\nimport "./test/support/${child}.mjs";\n`);
  }
  return out;
}

export function removeCompiledCli(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Path of the compiled `ferry` (spawn it with node) in `dir`. */
export const compiledBin = (dir: string) => join(dir, "ferry.mjs");
/** Path of a compiled test child in `dir`. */
export const compiledChild = (dir: string, child: TestChild) => join(dir, `${child}.mjs`);

// Evaluated first, but only after node has loaded the whole static graph of the entry importing
// it: so tsx handles just what is imported later, i.e. migration files.
const REGISTER_TS = `// Registers tsx for the TypeScript imported at run time (migration files), and maps their
// imports of ferry's own sources onto the compiled modules.
import { readFileSync } from "node:fs";
import { register } from "node:module";
import { register as registerTsx } from "tsx/esm/api";
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
registerTsx();
const compiled = JSON.parse(readFileSync(new URL("./compiled.json", import.meta.url), "utf8"));
register(new URL("./resolve-hook.mjs", import.meta.url), { data: { compiled } });
`;

// Registered after tsx, so it runs first and sees what tsx resolves a specifier to.
const RESOLVE_HOOK = `let compiled = {};
export function initialize(data) {
  compiled = data.compiled;
}
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  const target = compiled[resolved.url.split("?")[0]];
  return target ? { url: target, format: "module", shortCircuit: true } : resolved;
}
`;

// packages/cli/bin/ferry.mjs, but on the compiled main.
const FERRY_BIN = `import "./register-ts.mjs";
import { main } from "./packages/cli/src/main.mjs";
await main(process.argv);
`;
