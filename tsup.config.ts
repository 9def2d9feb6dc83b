import { readFileSync, rmSync } from "node:fs";
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
// - dist/mod.cjs: CommonJS (src/api.ts: no top-level await; callers await init());
// - dist/activation-node.js, dist/activation-bun.js, dist/activation.js, dist/activation.cjs: the start-up
//   entry (`handover/activation`) the same ways;
// - dist/cli.js: the launcher, on its own chunks;
// - jsr/activation.js: the start-up entry for JSR, which otherwise serves the TypeScript
//   modules (jsr.json exports it; not part of the npm package).
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
} as const satisfies Options;

const RUNTIME_MODULES = [
  "deno",
  "deno_serve",
  "deno_startup",
  "bun",
  "bun_serve",
  "bun_stream",
  "bun_startup",
  "node",
  "node_serve",
  "node_stream",
  "node_startup",
];

/** What a stub in an npm build for one runtime says when another runtime loads it. */
const npmBuildOnly = (file: string, runtime: string): string =>
  `this build of handover (dist/${file}) is for ${runtime}: ` +
  "other runtimes load dist/mod.js through the package's export conditions";

/** Replaces the runtime modules a single-runtime build must not contain with stubs that throw `message`. */
function only(
  runtime: "node" | "bun" | "deno",
  keep: readonly string[],
  message = npmBuildOnly(`${runtime}.js`, runtime),
): NonNullable<Options["esbuildPlugins"]>[number] {
  const leftOut = RUNTIME_MODULES.filter((name) => !keep.includes(name));
  const filter = new RegExp(`/runtimes/(${leftOut.join("|")})\\.ts$`);
  return {
    name: `only-${runtime}`,
    setup(build) {
      build.onResolve({ filter }, (args) => ({ path: args.path, namespace: "other-runtime" }));
      build.onLoad({ filter: /.*/, namespace: "other-runtime" }, () => ({
        contents: `const message = ${JSON.stringify(message)};
export function createBackend() { throw new Error(message); }
export function createStartupCalls() { throw new Error(message); }
export function openSocketStream() { throw new Error(message); }`,
        loader: "js",
      }));
    },
  };
}

/**
 * The start-up entry's import of the main entry (by a computed specifier, `MAIN_ENTRY` in
 * src/activation_api.ts) as the main entry's build for the same runtime; and no static import of it.
 */
function mainEntryAs(file: string): NonNullable<Options["esbuildPlugins"]>[number] {
  const declaration = 'const MAIN_ENTRY = "../mod.ts";';
  return {
    name: "main-entry-as-build",
    setup(build) {
      build.onLoad({ filter: /\/src\/activation_api\.ts$/ }, (args) => {
        const source = readFileSync(args.path, "utf8");
        if (!source.includes(declaration)) throw new Error(`${args.path} no longer declares ${declaration}`);
        return { contents: source.replace(declaration, `const MAIN_ENTRY = ${JSON.stringify(file)};`), loader: "ts" };
      });
      build.onResolve({ filter: /\/mod\.ts$/ }, (args) => {
        throw new Error(`${args.importer} imports the main entry (${args.kind}) by a literal specifier`);
      });
    },
  };
}

export default defineConfig([
  {
    ...common,
    entry: { node: "mod.ts" },
    format: ["esm"],
    splitting: false,
    esbuildPlugins: [only("node", ["node", "node_serve", "node_stream", "node_startup"])],
  },
  {
    ...common,
    entry: { bun: "mod.ts" },
    format: ["esm"],
    splitting: false,
    esbuildPlugins: [only("bun", ["bun", "bun_serve", "bun_stream", "bun_startup", "node_serve", "node_stream"])],
  },
  // The start-up entry (handover/activation), one module per runtime: collect() on fcntl alone. What only
  // launchd or LISTEN_PIDFDID need is the main entry, which it imports (the same runtime's build) only then.
  {
    ...common,
    entry: { "activation-node": "activation.ts" },
    format: ["esm"],
    splitting: false,
    // Minified: Bun's and Node's start-up cost grows with the bytes they parse.
    minify: true,
    esbuildPlugins: [
      mainEntryAs("./node.js"),
      only("node", ["node_startup"], npmBuildOnly("activation-node.js", "node")),
    ],
  },
  {
    ...common,
    entry: { "activation-bun": "activation.ts" },
    format: ["esm"],
    splitting: false,
    // Minified: Bun's and Node's start-up cost grows with the bytes they parse.
    minify: true,
    esbuildPlugins: [mainEntryAs("./bun.js"), only("bun", ["bun_startup"], npmBuildOnly("activation-bun.js", "bun"))],
  },
  {
    ...common,
    entry: { activation: "activation.ts" },
    format: ["esm"],
    dts: true,
    // Every runtime's start-up module a chunk of its own behind import(), as in dist/mod.js (bun:ffi, koffi).
    splitting: true,
    esbuildPlugins: [mainEntryAs("./mod.js")],
  },
  {
    ...common,
    entry: { activation: "src/activation_api.ts" },
    format: ["cjs"],
    dts: true,
    splitting: false,
    shims: true,
    esbuildPlugins: [mainEntryAs("./mod.cjs")],
  },
  // The start-up entry for JSR, which is handover's package for Deno (Bun and Node install from npm): one ES
  // module with Deno's start-up calls inside, where activation.ts is a dozen TypeScript modules (about 1.5 ms
  // more at every start). The main entry stays the package's TypeScript, imported only when needed.
  {
    ...common,
    platform: "neutral",
    entry: { activation: "activation.ts" },
    outDir: "jsr",
    format: ["esm"],
    // Its types (and JSR's docs) are the source's: activation.ts.
    banner: { js: '// @ts-self-types="../activation.ts"' },
    splitting: false,
    esbuildPlugins: [
      mainEntryAs("../mod.ts"),
      only(
        "deno",
        ["deno_startup"],
        "handover's JSR package is for Deno (jsr/activation.js): in Bun and Node, install the npm package, handover",
      ),
    ],
  },
  { ...common, entry: { mod: "mod.ts" }, format: ["esm"], dts: true, splitting: true },
  // import.meta.url shimmed in CommonJS (the Node backend resolves koffi with createRequire).
  { ...common, entry: { mod: "src/api.ts" }, format: ["cjs"], dts: true, splitting: false, shims: true },
  { ...common, entry: { cli: "cli.ts" }, format: ["esm"], splitting: true },
]);
