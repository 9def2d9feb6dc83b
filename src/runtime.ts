/**
 * The module that loads a backend from `runtimes/` (with `src/startup_loader.ts`,
 * which loads only the start-up calls). Each backend is loaded with a dynamic
 * `import()` for the runtime `detectRuntime()` names, so Node never resolves
 * `bun:ffi` and Deno and Bun never load koffi.
 *
 * @module
 */

import type { Backend, BackendModule, RuntimeName, ServeAdapterModule, StreamAdapterModule } from "./backend.ts";
import { detectRuntime } from "./startup_loader.ts";
import { installBackend } from "./system.ts";

export { detectRuntime };

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

let loading: Promise<Backend> | undefined;

/**
 * Loads this runtime's backend once and installs it for the core
 * (`src/system.ts`); later calls return the same promise.
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
      const backend = (await importBackend(detectRuntime())).createBackend();
      installBackend(backend);
      return backend;
    } catch (error) {
      installBackend(undefined, error);
      throw error;
    }
  })();
  return loading;
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

let serving: Promise<ServeAdapterModule> | undefined;

/**
 * Loads this runtime's serving adapter once: `Deno.serve`/`Deno.listen`,
 * `Bun.serve`/`Bun.listen`/`Bun.udpSocket`, or `node:http` with srvx. Each
 * also handles `node:net`/`node:http`/`node:dgram` servers in its runtime.
 *
 * @returns The adapter module.
 *
 * @example
 * ```ts ignore
 * const adapter = await loadServeAdapter();
 * ```
 */
export function loadServeAdapter(): Promise<ServeAdapterModule> {
  serving ??= (async (): Promise<ServeAdapterModule> => {
    await loadBackend();
    switch (detectRuntime()) {
      case "deno":
        return await import("../runtimes/deno_serve.ts");
      case "bun":
        return await import("../runtimes/bun_serve.ts");
      case "node":
        return await import("../runtimes/node_serve.ts");
    }
  })();
  return serving;
}
