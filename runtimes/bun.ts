/**
 * The Bun backend: the neutral symbol tables bound with `bun:ffi`.
 *
 * @module
 */

import { dlopen, FFIType, ptr, read } from "bun:ffi";
import type { Backend, ProcessEnvironment } from "../src/backend.ts";
import { libcCandidates, openFirst } from "../src/library.ts";
import { type Platform, platformOf } from "../src/platform.ts";
import {
  adaptFunctions,
  type ForeignFunctions,
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

function bind<T extends SymbolTable>(platform: Platform, path: string, table: T): ForeignFunctions<T> {
  const resolved = resolveSymbols(table, platform);
  const definitions: Record<string, { args: FFIType[]; returns: FFIType }> = {};
  for (const s of resolved) {
    definitions[s.symbol] = { args: s.parameters.map((t) => BUN_TYPES[t]), returns: BUN_TYPES[s.result] };
  }
  const library = dlopen(path, definitions);
  // bun:ffi names functions by their exported symbol; the core calls them by table key.
  const byName: Record<string, unknown> = {};
  for (const s of resolved) byName[s.name] = library.symbols[s.symbol];
  return adaptFunctions<T>(resolved, byName as never);
}

/**
 * Loads the C library through `bun:ffi`.
 *
 * @returns The Bun backend.
 */
export function createBackend(): Backend {
  const platform = platformOf(process.platform, process.arch);
  const { library: libc, path: libcPath } = openFirst(
    "bun",
    "the C library",
    libcCandidates(platform),
    (path) => bind(platform, path, LIBC_SYMBOLS),
  );
  const errnoSymbol = platform.os === "darwin" ? "__error" : "__errno_location";
  const { library: errnoLibrary } = openFirst(
    "bun",
    "the C library's errno",
    [libcPath],
    (path) => dlopen(path, { [errnoSymbol]: { args: [], returns: FFIType.ptr } }),
  );
  const errnoPointer = errnoLibrary.symbols[errnoSymbol]!() as number | null;
  if (errnoPointer === null || errnoPointer === 0) throw new Error(`${errnoSymbol}() returned NULL`);

  const env: ProcessEnvironment = {
    get: (name) => process.env[name],
    delete: (name) => {
      delete process.env[name];
    },
  };

  return {
    runtime: "bun",
    platform,
    libcPath,
    libc: libc as ForeignFunctions<LibcSymbols>,
    open: (path, table) => openFirst("bun", path, [path], (p) => bind(platform, p, table)).library,
    errno: () => read.i32(errnoPointer as never, 0),
    address: (buffer) => buffer.byteLength === 0 ? 0n : BigInt(ptr(buffer)),
    env,
    unrefTimer: (timer) => (timer as { unref(): void }).unref(),
  };
}
