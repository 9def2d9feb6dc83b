/**
 * Runtime detection, and the only module that loads from `runtimes/`: each
 * runtime's FFI (`runtimes/<name>/ffi.ts`), stream and serving adapters, with
 * a dynamic `import()` for the runtime {@link detectRuntime} names, so Node
 * never resolves `bun:ffi` and Deno and Bun never load koffi. The CommonJS
 * builds load the FFI with `require()` instead ({@link loadBackendSync}), so
 * that `require("handover")` is ready at once in Node and Bun.
 *
 * @module
 */

import { HandoverError } from "../sys/errors.ts";
import type { Backend, BackendModule, RuntimeName, ServeAdapter, StreamAdapterModule } from "../types.ts";
import { currentBackend, installBackend } from "./system.ts";

interface RuntimeGlobals {
  Deno?: { version?: { deno?: string } };
  Bun?: unknown;
  process?: { versions?: { node?: string; bun?: string } };
}

/**
 * Which runtime this is: Deno first (it also defines `process`), then Bun,
 * then Node.
 *
 * @returns `deno`, `bun` or `node`.
 * @throws {HandoverError} `ENOTSUP` in any other JavaScript environment.
 *
 * @example Under deno test
 * ```ts
 * import { detectRuntime } from "./loader.ts";
 * detectRuntime(); // "deno"
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
      return import("../../runtimes/deno/ffi.ts");
    case "bun":
      return import("../../runtimes/bun/ffi.ts");
    case "node":
      return import("../../runtimes/node/ffi.ts");
  }
}

// tsup.config.ts defines HANDOVER_COMMONJS: true in the CommonJS builds, false in the ES module ones, so that
// each build keeps only its own way of loading (an ES module build must not even contain the require() calls: it
// would import bun:ffi at its top). Not defined when the TypeScript sources run (Deno, tsx): ES modules.
declare const HANDOVER_COMMONJS: boolean;
// The CommonJS module's own require(), in the CommonJS builds only.
declare const require: (specifier: string) => unknown;

/**
 * The runtime's FFI module, loaded synchronously: in the CommonJS builds
 * (Node and Bun, where `require()` of koffi and of `bun:ffi` is synchronous);
 * undefined elsewhere.
 */
function requireBackend(runtime: RuntimeName): BackendModule | undefined {
  if (typeof HANDOVER_COMMONJS === "boolean" && HANDOVER_COMMONJS) {
    switch (runtime) {
      case "bun":
        return require("../../runtimes/bun/ffi.ts") as BackendModule;
      case "node":
        return require("../../runtimes/node/ffi.ts") as BackendModule;
      case "deno":
        // Deno takes the package's ES modules (its `deno` export condition); init() loads them here.
        return undefined;
    }
  }
  return undefined;
}

let loading: Promise<Backend> | undefined;
let loadedSync = false;

/**
 * Loads this runtime's backend once and installs it for the core
 * (`src/ffi/system.ts`); later calls return the same promise. Creating a
 * backend binds no C function: each is bound at its first use.
 *
 * @returns The backend.
 * @throws {HandoverError} `ELIBACC` when the C library cannot be loaded, `ENOTSUP` on an unknown platform.
 *
 * @example
 * ```ts
 * import { loadBackend } from "./loader.ts";
 * const backend = await loadBackend();
 * backend.pid > 0; // true
 * ```
 */
export function loadBackend(): Promise<Backend> {
  loading ??= (async () => {
    if (!loadedSync) {
      try {
        installBackend((await importBackend(detectRuntime())).createBackend());
      } catch (error) {
        installBackend(undefined, error);
      }
    }
    return currentBackend();
  })();
  return loading;
}

/**
 * Loads this runtime's backend now, where that can be done synchronously: in
 * the CommonJS builds, in Node and Bun. Like {@link loadBackend}, a failure
 * to load is kept and thrown by the first call that needs the FFI.
 *
 * @returns True when the backend is loaded (or failed to load) now; false
 * where only {@link loadBackend} can load it (ES modules, Deno).
 *
 * @example
 * ```ts
 * import { loadBackendSync } from "./loader.ts";
 * loadBackendSync(); // false: the TypeScript sources are ES modules
 * ```
 */
export function loadBackendSync(): boolean {
  if (loadedSync) return true;
  if (loading !== undefined) return false;
  let module: BackendModule | undefined;
  try {
    module = requireBackend(detectRuntime());
    if (module === undefined) return false;
    installBackend(module.createBackend());
  } catch (error) {
    installBackend(undefined, error);
  }
  loadedSync = true;
  return true;
}

let streams: Promise<StreamAdapterModule> | undefined;

/**
 * Loads this runtime's socket-stream adapter once: `node:net` for Node and
 * Deno, `Bun.connect` for Bun.
 *
 * @returns The adapter module.
 *
 * @example One end of a pair as streams
 * ```ts
 * import { close, socketpair } from "../../mod.ts";
 * import { loadStreamAdapter } from "./loader.ts";
 * const { openSocketStream } = await loadStreamAdapter(); // node:net's sockets here, in Deno
 * const [a, b] = socketpair();
 * const stream = await openSocketStream(a); // owns a from now on
 * await stream.close();
 * close(b);
 * ```
 */
export function loadStreamAdapter(): Promise<StreamAdapterModule> {
  streams ??= detectRuntime() === "bun"
    ? import("../../runtimes/bun/stream.ts")
    : import("../../runtimes/node/stream.ts");
  return streams;
}

let serving: Promise<ServeAdapter> | undefined;

/**
 * Loads this runtime's serving adapter once: `Deno.serve`/`Deno.listen`,
 * `Bun.serve`/`Bun.listen`/`Bun.udpSocket`, or `node:http` with srvx. Each
 * also handles `node:net`/`node:http`/`node:dgram` servers in its runtime.
 *
 * @returns The adapter module.
 *
 * @example What the adapter tells about a Deno.serve server
 * ```ts
 * import { loadServeAdapter } from "./loader.ts";
 * const adapter = await loadServeAdapter();
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response("hello"));
 * adapter.kindOf(server); // "http"
 * adapter.addressOf(server); // { family: "inet", address: "127.0.0.1", port: server.addr.port }
 * await adapter.close(server, false);
 * ```
 */
export function loadServeAdapter(): Promise<ServeAdapter> {
  serving ??= (async (): Promise<ServeAdapter> => {
    await loadBackend();
    switch (detectRuntime()) {
      case "deno":
        return await import("../../runtimes/deno/serve.ts");
      case "bun":
        return await import("../../runtimes/bun/serve.ts");
      case "node":
        return await import("../../runtimes/node/serve.ts");
    }
  })();
  return serving;
}
