/**
 * Node's start-up calls for socket activation: koffi (loaded with
 * `require()`, about 2 ms faster than an ES import) with the C library bound
 * for `fcntl` alone; errno from `koffi.errno()`, and the environment through
 * `process.env`, whose deletion calls `unsetenv(3)` itself.
 * `runtimes/node.ts` builds the whole backend on the same pieces.
 *
 * @module
 */

import type koffiModule from "koffi";
import type { LibraryHandle } from "koffi";
import { createRequire } from "node:module";
import type { ProcessEnvironment, StartupCalls } from "../src/backend.ts";
import { adaptFunctions, type NativeType, type ResolvedSymbol, resolveSymbols } from "../src/ffi.ts";
import { libcCandidates, openFirst } from "../src/library.ts";
import { platformOf } from "../src/platform.ts";
import { STARTUP_SYMBOLS, type StartupSymbols } from "../src/startup_symbols.ts";

/** koffi, loaded once for the process. */
export const koffi: typeof koffiModule = createRequire(import.meta.url)("koffi") as typeof koffiModule;

/** The neutral types in koffi's words. */
export const KOFFI_TYPES: Readonly<Record<NativeType, string>> = {
  i32: "int32_t",
  u32: "uint32_t",
  usize: "size_t",
  isize: "intptr_t",
  // Typed arrays (and null) pass as pointers to their bytes.
  buffer: "void *",
  // Raw addresses travel as bigints.
  pointer: "uintptr_t",
  void: "void",
};

/**
 * Binds one resolved symbol from a library koffi loaded.
 *
 * @param library The library.
 * @param s The symbol.
 * @returns The raw function.
 * @throws {Error} When the symbol is missing.
 *
 * @example
 * ```ts ignore
 * const getpid = koffiFunction(koffi.load("libc.so.6"), resolved);
 * ```
 */
export function koffiFunction(library: LibraryHandle, s: ResolvedSymbol): (...args: unknown[]) => unknown {
  return library.func(s.symbol, KOFFI_TYPES[s.result], s.parameters.map((t) => KOFFI_TYPES[t]));
}

/** `process.env`; Node's deletion calls unsetenv(3) itself. */
export const nodeEnvironment: ProcessEnvironment = {
  get: (name) => process.env[name],
  peek: (name) => process.env[name],
  delete: (name) => {
    delete process.env[name];
  },
};

/**
 * Opens the C library for the start-up calls.
 *
 * @returns The calls.
 * @throws {HandoverError} `ELIBACC` when no C library loads.
 *
 * @example
 * ```ts ignore
 * const calls = createStartupCalls();
 * calls.fcntl(3, 1, 0); // F_GETFD
 * ```
 */
export function createStartupCalls(): StartupCalls {
  const platform = platformOf(process.platform, process.arch);
  const resolved = resolveSymbols({ fcntl: STARTUP_SYMBOLS.fcntl }, platform);
  const { library } = openFirst(
    "node",
    "the C library",
    libcCandidates(platform),
    (path) => ({ fcntl: koffiFunction(koffi.load(path), resolved[0]!) }),
  );
  const libc = adaptFunctions<Pick<StartupSymbols, "fcntl">>(resolved, library);
  return {
    runtime: "node",
    os: platform.os,
    pid: process.pid,
    env: nodeEnvironment,
    fcntl: libc.fcntl,
    errno: () => koffi.errno(),
  };
}
