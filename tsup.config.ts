import { defineConfig } from "tsup";

// Two builds of the same sources: ES modules (mod.ts loads the FFI backend with a
// top-level await) and CommonJS (src/api.ts, no top-level await; callers await init()).
// Each runtime backend stays a separate chunk behind a dynamic import() in the ESM build.
const common = {
  target: "es2022",
  platform: "node",
  external: ["bun:ffi", "koffi"],
  sourcemap: false,
  outDir: "dist",
} as const;

export default defineConfig([
  { ...common, entry: { mod: "mod.ts", cli: "cli.ts" }, format: ["esm"], dts: true, splitting: true, clean: true },
  { ...common, entry: { mod: "src/api.ts" }, format: ["cjs"], dts: true, splitting: false },
]);
