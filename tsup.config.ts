import { rmSync } from "node:fs";
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
// - dist/cli.js: the launcher, on its own chunks.
// Start from an empty dist/: the chunk names change from build to build, and
// npm packs the whole folder, so chunks left from an earlier build would ship.
// (Not tsup's `clean`: the builds below run side by side, and each would empty
// the folder under the others.)
rmSync("dist", { recursive: true, force: true });

const common = {
  target: "es2022",
  platform: "node",
  external: ["bun:ffi", "koffi", "@hono/node-server", "hono"],
  sourcemap: false,
  outDir: "dist",
} as const satisfies Options;

const RUNTIME_MODULES = ["deno", "deno_serve", "bun", "bun_serve", "bun_stream", "node", "node_serve", "node_stream"];

/** Replaces the runtime modules a single-runtime build must not contain with stubs. */
function only(runtime: "node" | "bun", keep: readonly string[]): NonNullable<Options["esbuildPlugins"]>[number] {
  const leftOut = RUNTIME_MODULES.filter((name) => !keep.includes(name));
  const filter = new RegExp(`/runtimes/(${leftOut.join("|")})\\.ts$`);
  return {
    name: `only-${runtime}`,
    setup(build) {
      build.onResolve({ filter }, (args) => ({ path: args.path, namespace: "other-runtime" }));
      build.onLoad({ filter: /.*/, namespace: "other-runtime" }, () => ({
        contents: `const message = "this build of handover (dist/${runtime}.js) is for ${runtime}: " +
  "other runtimes load dist/mod.js through the package's export conditions";
export function createBackend() { throw new Error(message); }
export function openSocketStream() { throw new Error(message); }`,
        loader: "js",
      }));
    },
  };
}

export default defineConfig([
  {
    ...common,
    entry: { node: "mod.ts" },
    format: ["esm"],
    splitting: false,
    esbuildPlugins: [only("node", ["node", "node_serve", "node_stream"])],
  },
  {
    ...common,
    entry: { bun: "mod.ts" },
    format: ["esm"],
    splitting: false,
    esbuildPlugins: [only("bun", ["bun", "bun_serve", "bun_stream", "node_serve", "node_stream"])],
  },
  { ...common, entry: { mod: "mod.ts" }, format: ["esm"], dts: true, splitting: true },
  // import.meta.url shimmed in CommonJS (the Node backend resolves koffi with createRequire).
  { ...common, entry: { mod: "src/api.ts" }, format: ["cjs"], dts: true, splitting: false, shims: true },
  { ...common, entry: { cli: "cli.ts" }, format: ["esm"], splitting: true },
]);
