import { defineConfig } from "tsup";

// Three builds of the same sources:
// - the library as ES modules (mod.ts loads the FFI backend with a top-level
//   await); each runtime's backend and adapters stay separate chunks behind a
//   dynamic import(), so Node never resolves bun:ffi and Deno/Bun never load koffi;
// - the library as CommonJS (src/api.ts: no top-level await; callers await init());
// - the CLI on its own (its own chunks, backends again behind import()), so that its code does not
//   split the library into more chunks.
const common = {
  target: "es2022",
  platform: "node",
  external: ["bun:ffi", "koffi", "@hono/node-server", "hono"],
  sourcemap: false,
  outDir: "dist",
  // import.meta.url in the CommonJS build (the Node backend resolves koffi with createRequire).
  shims: true,
} as const;

export default defineConfig([
  { ...common, entry: { mod: "mod.ts" }, format: ["esm"], dts: true, splitting: true, clean: true },
  { ...common, entry: { mod: "src/api.ts" }, format: ["cjs"], dts: true, splitting: false },
  { ...common, entry: { cli: "cli.ts" }, format: ["esm"], dts: false, splitting: true },
]);
