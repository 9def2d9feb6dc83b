/**
 * The Deno backend: the neutral symbol tables bound with `Deno.dlopen`.
 *
 * @module
 */

import type { Backend } from "../src/backend.ts";
import { denoDefinition, denoEnvironment } from "./deno_startup.ts";
import { libcCandidates, openFirst } from "../src/library.ts";
import { platformOf } from "../src/platform.ts";
import {
  bindAll,
  type ForeignFunctions,
  lazyFunctions,
  LIBC_SYMBOLS,
  type LibcSymbols,
  resolveSymbols,
  type SymbolTable,
} from "../src/symbols.ts";
import type { Platform } from "../src/platform.ts";

// Each function is bound at its first use (Deno compiles a trampoline per symbol).
function bind<T extends SymbolTable>(platform: Platform, path: string, table: T): ForeignFunctions<T> {
  return lazyFunctions<T>(
    resolveSymbols(table, platform),
    (s) => Deno.dlopen(path, { [s.name]: denoDefinition(s) }).symbols[s.name] as (...args: unknown[]) => unknown,
    { runtime: "deno", path },
  );
}

/**
 * Loads the C library through `Deno.dlopen` (needs `--allow-ffi`).
 *
 * @returns The Deno backend.
 */
export function createBackend(): Backend {
  const platform = platformOf(Deno.build.os, Deno.build.arch);
  // Opening the library for errno proves that it loads; the functions are bound at their first use.
  const { library: errnoLibrary, path: libcPath } = openFirst(
    "deno",
    "the C library",
    libcCandidates(platform),
    (path) =>
      Deno.dlopen(path, {
        errnoLocation: {
          name: platform.os === "darwin" ? "__error" : "__errno_location",
          parameters: [],
          result: "pointer",
        },
      }),
  );
  const libc = bind(platform, libcPath, LIBC_SYMBOLS);
  const errnoPointer = errnoLibrary.symbols.errnoLocation();
  if (errnoPointer === null) throw new Error("__errno_location() returned NULL");
  const errnoView = new Deno.UnsafePointerView(errnoPointer);

  return {
    runtime: "deno",
    platform,
    libcPath,
    libc: libc as ForeignFunctions<LibcSymbols>,
    open: (path, table) => openFirst("deno", path, [path], (p) => bindAll(bind(platform, p, table))).library,
    errno: () => errnoView.getInt32(0),
    address: (buffer) => BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer as Uint8Array<ArrayBuffer>))),
    env: denoEnvironment,
    pid: Deno.pid,
    exit: (code) => Deno.exit(code),
    unrefTimer: (timer) => Deno.unrefTimer(timer as number),
  };
}
