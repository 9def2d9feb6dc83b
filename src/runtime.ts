/**
 * Runtime detection: the one module that loads a backend from `runtimes/`.
 * Deno first (it also defines `process`), then Bun, then Node; each backend
 * is loaded with a dynamic `import()`, so Node never resolves `bun:ffi` and
 * Deno and Bun never load koffi.
 *
 * @module
 */

import type { Backend, BackendModule, RuntimeName, StreamAdapterModule } from "./backend.ts";
import { HandoverError } from "./errors.ts";

interface RuntimeGlobals {
  Deno?: { version?: { deno?: string } };
  Bun?: unknown;
  process?: { versions?: { node?: string; bun?: string } };
}

/**
 * Which runtime this is.
 *
 * @returns `deno`, `bun` or `node`.
 * @throws {HandoverError} `ENOTSUP` in any other JavaScript environment.
 *
 * @example
 * ```ts
 * import { detectRuntime } from "./runtime.ts";
 * detectRuntime(); // "deno" under deno test
 * ```
 */
export function detectRuntime(): RuntimeName {
  const g = globalThis as RuntimeGlobals;
  if (typeof g.Deno?.version?.deno === "string") return "deno";
  if (g.Bun !== undefined || typeof g.process?.versions?.bun === "string") return "bun";
  if (typeof g.process?.versions?.node === "string") return "node";
  throw new HandoverError("ENOTSUP", "handover runs in Deno, Bun or Node, and this is none of them");
}

function importBackend(runtime: RuntimeName): Promise<BackendModule> {
  switch (runtime) {
    case "deno":
      return import("../runtimes/deno.ts");
    case "bun":
      return import("../runtimes/bun.ts");
    case "node":
      return import("../runtimes/node.ts");
  }
}

let loaded: Backend | undefined;
let loadError: unknown;
let loading: Promise<Backend> | undefined;

/**
 * Loads this runtime's backend once; later calls return the same promise.
 *
 * @returns The backend.
 * @throws {HandoverError} `ELIBACC` when the C library cannot be loaded, `ENOTSUP` on an unknown platform.
 *
 * @example
 * ```ts
 * import { loadBackend } from "./runtime.ts";
 * const backend = await loadBackend();
 * backend.libc.getpid() > 0; // true
 * ```
 */
export function loadBackend(): Promise<Backend> {
  loading ??= (async () => {
    try {
      const runtime = detectRuntime();
      loaded = (await importBackend(runtime)).createBackend();
      return loaded;
    } catch (error) {
      loadError = error;
      throw error;
    }
  })();
  return loading;
}

/**
 * The loaded backend, for the synchronous API.
 *
 * @returns The backend.
 * @throws {HandoverError} The error loading failed with, or `ERR_HANDOVER_NOT_READY`
 * when it is still loading (only CommonJS code can get here: it must `await init()`).
 *
 * @example
 * ```ts
 * import { currentBackend, loadBackend } from "./runtime.ts";
 * await loadBackend();
 * currentBackend().runtime; // "deno", "bun" or "node"
 * ```
 */
export function currentBackend(): Backend {
  if (loaded !== undefined) return loaded;
  if (loadError !== undefined) throw loadError;
  loadBackend().catch(() => {});
  throw new HandoverError(
    "ERR_HANDOVER_NOT_READY",
    "handover's FFI backend is still loading: await init() before the first call (only CommonJS needs this)",
  );
}

let streams: Promise<StreamAdapterModule> | undefined;

/**
 * Loads this runtime's socket-stream adapter once: `node:net` for Node and
 * Deno, `Bun.connect` for Bun.
 *
 * @returns The adapter module.
 *
 * @example
 * ```ts ignore
 * const adapter = await loadStreamAdapter();
 * ```
 */
export function loadStreamAdapter(): Promise<StreamAdapterModule> {
  streams ??= detectRuntime() === "bun" ? import("../runtimes/bun_stream.ts") : import("../runtimes/node_stream.ts");
  return streams;
}
