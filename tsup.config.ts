import { rmSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { defineConfig, type Options } from "tsup";

// The builds of the npm package, all from the same sources:
// - dist/node.js and dist/bun.js: the library as one ES module each, for the
//   package's `node` and `bun` export conditions. The other runtimes' modules
//   are left out (each becomes a stub that says so), so Node never sees
//   bun:ffi and Bun never loads koffi; one file loads several milliseconds
//   faster than a tree of chunks.
// - dist/mod.js: the library as ES modules with every runtime, each runtime's
//   backend and adapters a chunk behind a dynamic import() (Deno's `npm:`
//   specifier and any other ESM consumer);
// - dist/mod.cjs: CommonJS (src/commonjs.ts: no top-level await; the FFI loads with require() at once, in
//   Node and Bun);
// - dist/activation-node.js, dist/activation-bun.js, dist/activation.js, dist/activation.cjs: the start-up
//   entry (`handover/activation`) the same ways (CommonJS: src/activation/commonjs.ts);
// - dist/launcher-node.js, dist/launcher-bun.js, dist/launcher.js, dist/launcher.cjs: the launcher API
//   (`handover/launcher`) the same ways (CommonJS: src/cli/commonjs.ts);
// - dist/cli.cjs: the launcher (the bin), one CommonJS file;
// - jsr/activation.js and jsr/mod.js (with its chunks): the start-up entry and the main entry for JSR
//   (jsr.json exports them; not part of the npm package); the CLI is served as TypeScript modules.
// Start from an empty dist/: the chunk names change from build to build, and
// npm packs the whole folder, so chunks left from an earlier build would ship.
// (Not tsup's `clean`: the builds below run side by side, and each would empty
// the folder under the others.)
rmSync("dist", { recursive: true, force: true });
rmSync("jsr", { recursive: true, force: true });

const common = {
  target: "es2022",
  platform: "node",
  external: ["bun:ffi", "koffi", "@hono/node-server", "hono"],
  sourcemap: false,
  outDir: "dist",
  // src/ffi/loader.ts loads the FFI with require() in CommonJS only; an ES module build must not even contain
  // those require() calls (bun:ffi would become an import at its top).
  define: { HANDOVER_COMMONJS: "false" },
} as const satisfies Options;

/** What the CommonJS builds change: the FFI loads with require(), at once. */
const commonJs = { define: { HANDOVER_COMMONJS: "true" } } as const satisfies Options;

/** What a stub in an npm build for one runtime says when another runtime loads it. */
const npmBuildOnly = (file: string, runtime: string): string =>
  `this build of handover (dist/${file}) is for ${runtime}: ` +
  "other runtimes load dist/mod.js through the package's export conditions";

/**
 * Replaces every module under runtimes/ that a single-runtime build must not contain with a stub that throws
 * `message`; `keep` lists what stays, as `runtime` (its whole folder) or `runtime/file`.
 */
function only(
  runtime: "node" | "bun" | "deno",
  keep: readonly string[],
  message = npmBuildOnly(`${runtime}.js`, runtime),
): NonNullable<Options["esbuildPlugins"]>[number] {
  const kept = (path: string): boolean => {
    const match = /\/runtimes\/([a-z]+)\/([a-z_]+)\.ts$/.exec(path);
    return match === null || keep.includes(match[1]!) || keep.includes(`${match[1]}/${match[2]}`);
  };
  return {
    name: `only-${runtime}`,
    setup(build) {
      build.onResolve({ filter: /\/runtimes\// }, (args) => {
        const path = `${args.resolveDir}/${args.path}`;
        return kept(path) ? undefined : { path, namespace: "other-runtime" };
      });
      build.onLoad({ filter: /.*/, namespace: "other-runtime" }, () => ({
        contents: `const message = ${JSON.stringify(message)};
export function createBackend() { throw new Error(message); }
export function openSocketStream() { throw new Error(message); }`,
        loader: "js",
      }));
    },
  };
}

const BUN_KEEPS = ["bun", "node/serve", "node/stream", "node/process"];

export default defineConfig([
  { ...common, entry: { node: "mod.ts" }, format: ["esm"], splitting: false, esbuildPlugins: [only("node", ["node"])] },
  // Minified: Bun's start-up cost grows with the bytes it parses (Node's does not measurably).
  {
    ...common,
    entry: { bun: "mod.ts" },
    format: ["esm"],
    splitting: false,
    minify: true,
    esbuildPlugins: [only("bun", BUN_KEEPS)],
  },
  // The start-up entry (handover/activation), one module per runtime. Minified: Bun's and Node's start-up cost
  // grows with the bytes they parse.
  {
    ...common,
    entry: { "activation-node": "activation.ts" },
    format: ["esm"],
    splitting: false,
    minify: true,
    esbuildPlugins: [only("node", ["node"], npmBuildOnly("activation-node.js", "node"))],
  },
  {
    ...common,
    entry: { "activation-bun": "activation.ts" },
    format: ["esm"],
    splitting: false,
    minify: true,
    esbuildPlugins: [only("bun", BUN_KEEPS, npmBuildOnly("activation-bun.js", "bun"))],
  },
  // Every runtime's FFI a chunk of its own behind import(), as in dist/mod.js (bun:ffi, koffi).
  { ...common, entry: { activation: "activation.ts" }, format: ["esm"], dts: true, splitting: true },
  {
    ...common,
    ...commonJs,
    entry: { activation: "src/activation/commonjs.ts" },
    format: ["cjs"],
    dts: true,
    splitting: false,
    shims: true,
  },
  // The start-up entry for JSR, which is handover's package for Deno (Bun and Node install from npm): one ES
  // module with Deno's FFI inside, where activation.ts is a dozen TypeScript modules.
  {
    ...common,
    platform: "neutral",
    entry: { activation: "activation.ts" },
    outDir: "jsr",
    format: ["esm"],
    // Its types (and JSR's docs) are the source's: activation.ts.
    banner: { js: '// @ts-self-types="../activation.ts"' },
    splitting: false,
    // Minified: Deno's start-up cost grows with the bytes it parses, as Bun's and Node's do.
    minify: true,
    esbuildPlugins: [
      only(
        "deno",
        ["deno"],
        "handover's JSR package is for Deno (jsr/activation.js): in Bun and Node, install the npm package, handover",
      ),
    ],
  },
  // The launcher API (handover/launcher): one module for Node and one for Bun, the rest as dist/mod.js, and
  // CommonJS.
  {
    ...common,
    entry: { "launcher-node": "launcher.ts" },
    format: ["esm"],
    splitting: false,
    esbuildPlugins: [only("node", ["node"], npmBuildOnly("launcher-node.js", "node"))],
  },
  {
    ...common,
    entry: { "launcher-bun": "launcher.ts" },
    format: ["esm"],
    splitting: false,
    esbuildPlugins: [only("bun", BUN_KEEPS, npmBuildOnly("launcher-bun.js", "bun"))],
  },
  { ...common, entry: { launcher: "launcher.ts" }, format: ["esm"], dts: true, splitting: true },
  {
    ...common,
    ...commonJs,
    entry: { launcher: "src/cli/commonjs.ts" },
    format: ["cjs"],
    dts: true,
    splitting: false,
    shims: true,
  },
  // The main entry for JSR (jsr.json's "."): Deno loads one pre-built module (and its chunks) about 5 ms faster
  // than the 40-odd TypeScript modules of mod.ts. Deno's FFI is in it; what only some programs load (the serving
  // and stream adapters, Node's for the node:http fallback, launchd and the pidfd check) stays in chunks behind
  // import(), so that Node's compatibility layer (node:module) is not loaded at start-up.
  {
    ...common,
    platform: "neutral",
    entry: { mod: "mod.ts" },
    outDir: "jsr",
    format: ["esm"],
    splitting: true,
    minify: true,
    esbuildPlugins: [
      only(
        "deno",
        ["deno", "node/serve", "node/stream", "node/process"],
        "handover's JSR package is for Deno (jsr/mod.js): in Bun and Node, install the npm package, handover",
      ),
    ],
    // Its types (and JSR's docs) are the source's: mod.ts. Only on the entry, not on its chunks.
    async onSuccess(): Promise<void> {
      const file = "jsr/mod.js";
      await writeFile(file, '// @ts-self-types="../mod.ts"\n' + await readFile(file, "utf8"));
    },
  },
  { ...common, entry: { mod: "mod.ts" }, format: ["esm"], dts: true, splitting: true },
  // import.meta.url shimmed in CommonJS (the Node backend resolves koffi with createRequire).
  {
    ...common,
    ...commonJs,
    entry: { mod: "src/commonjs.ts" },
    format: ["cjs"],
    dts: true,
    splitting: false,
    shims: true,
  },
  // The launcher (the package's bin) as one CommonJS file: Node then loads neither its ES module loader nor, through
  // the ES module view of node:fs, fs/promises and readline: about 1.3 MiB less memory for a launcher that waits
  // for connections, and a faster start. import.meta.url shimmed (the Node backend resolves koffi from it).
  { ...common, entry: { cli: "cli.ts" }, format: ["cjs"], splitting: false, shims: true },
]);
