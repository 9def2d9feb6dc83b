/**
 * The Bun backend: the neutral symbol tables bound with `bun:ffi`.
 *
 * @module
 */

import { dlopen, FFIType, ptr, read } from "bun:ffi";
import type { Backend, ProcessEnvironment } from "../src/backend.ts";
import { libcCandidates, openFirst } from "../src/library.ts";
import { cString } from "../src/structs.ts";
import { type Platform, platformOf } from "../src/platform.ts";
import {
  bindAll,
  type ForeignFunctions,
  lazyFunctions,
  LIBC_SYMBOLS,
  type LibcSymbols,
  type NativeType,
  resolveSymbols,
  type SymbolTable,
} from "../src/symbols.ts";

const BUN_TYPES: Readonly<Record<NativeType, FFIType>> = {
  i32: FFIType.i32,
  u32: FFIType.u32,
  usize: FFIType.u64_fast,
  isize: FFIType.i64_fast,
  // Typed arrays (and null) pass as pointers to their bytes.
  buffer: FFIType.ptr,
  // Raw addresses travel as bigints.
  pointer: FFIType.u64,
  void: FFIType.void,
};

// Each function is bound at its first use: a process pays only for what it calls.
function bind<T extends SymbolTable>(platform: Platform, path: string, table: T): ForeignFunctions<T> {
  return lazyFunctions<T>(
    resolveSymbols(table, platform),
    (s) => {
      const library = dlopen(path, {
        [s.symbol]: { args: s.parameters.map((t) => BUN_TYPES[t]), returns: BUN_TYPES[s.result] },
      });
      // bun:ffi names functions by their exported symbol; the core calls them by table key.
      return library.symbols[s.symbol] as (...args: unknown[]) => unknown;
    },
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
