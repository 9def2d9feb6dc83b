/**
 * The Bun backend: the neutral symbol tables bound with `bun:ffi`.
 *
 * @module
 */

import { dlopen, FFIType, ptr, read } from "bun:ffi";
import type { Backend, ProcessEnvironment } from "../src/backend.ts";
import { bunOpen } from "./bun_startup.ts";
import { libcCandidates, openFirst } from "../src/library.ts";
import { cString } from "../src/structs.ts";
import { type Platform, platformOf } from "../src/platform.ts";
import {
  bindAll,
  type ForeignFunctions,
  lazyFunctions,
  LIBC_SYMBOLS,
  type LibcSymbols,
  resolveSymbols,
  type SymbolTable,
} from "../src/symbols.ts";

// Each function is bound at its first use: a process pays only for what it calls.
function bind<T extends SymbolTable>(platform: Platform, path: string, table: T): ForeignFunctions<T> {
  return lazyFunctions<T>(
    resolveSymbols(table, platform),
    (s) => bunOpen(path, [s])[s.name]!,
    { runtime: "bun", path },
  );
}

/**
 * Loads the C library through `bun:ffi`.
 *
 * @returns The Bun backend.
 */
export function createBackend(): Backend {
  const platform = platformOf(process.platform, process.arch);
  // Opening the library for errno proves that it loads; the functions are bound at their first use.
  const errnoSymbol = platform.os === "darwin" ? "__error" : "__errno_location";
  const { library: errnoLibrary, path: libcPath } = openFirst(
    "bun",
    "the C library",
    libcCandidates(platform),
    (path) => dlopen(path, { [errnoSymbol]: { args: [], returns: FFIType.ptr } }),
  );
  const libc = bind(platform, libcPath, LIBC_SYMBOLS);
  const errnoPointer = errnoLibrary.symbols[errnoSymbol]!() as number | null;
  if (errnoPointer === null || errnoPointer === 0) throw new Error(`${errnoSymbol}() returned NULL`);

  const env: ProcessEnvironment = {
    get: (name) => process.env[name],
    peek: (name) => process.env[name],
    delete: (name) => {
      delete process.env[name];
      // Bun's process.env is its own copy: the C environment (exec(3), Bun.spawn) needs unsetenv(3) too.
      libc.unsetenv(cString(name));
    },
  };

  return {
    runtime: "bun",
    platform,
    libcPath,
    libc: libc as ForeignFunctions<LibcSymbols>,
    open: (path, table) => openFirst("bun", path, [path], (p) => bindAll(bind(platform, p, table))).library,
    errno: () => read.i32(errnoPointer as never, 0),
    address: (buffer) => buffer.byteLength === 0 ? 0n : BigInt(ptr(buffer)),
    env,
    pid: process.pid,
    exit: (code) => process.exit(code),
    unrefTimer: (timer) => (timer as { unref(): void }).unref(),
  };
}
