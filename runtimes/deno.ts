/**
 * The Deno backend: the neutral symbol tables bound with `Deno.dlopen`.
 *
 * @module
 */

import type { Backend, ProcessEnvironment } from "../src/backend.ts";
import { libcCandidates, openFirst } from "../src/library.ts";
import { platformOf } from "../src/platform.ts";
import {
  bindAll,
  type ForeignFunctions,
  lazyFunctions,
  LIBC_SYMBOLS,
  type LibcSymbols,
  type NativeType,
  type ResolvedSymbol,
  resolveSymbols,
  type SymbolTable,
} from "../src/symbols.ts";
import type { Platform } from "../src/platform.ts";

const DENO_TYPES: Readonly<Record<NativeType, Deno.NativeType | "void">> = {
  i32: "i32",
  u32: "u32",
  usize: "usize",
  isize: "isize",
  buffer: "buffer",
  // Raw addresses travel as bigints.
  pointer: "usize",
  void: "void",
};

function definition(s: ResolvedSymbol): Deno.ForeignFunction {
  return {
    name: s.symbol,
    parameters: s.parameters.map((t) => DENO_TYPES[t] as Deno.NativeType),
    result: DENO_TYPES[s.result],
  };
}

// Each function is bound at its first use (Deno compiles a trampoline per symbol).
function bind<T extends SymbolTable>(platform: Platform, path: string, table: T): ForeignFunctions<T> {
  return lazyFunctions<T>(
    resolveSymbols(table, platform),
    (s) => Deno.dlopen(path, { [s.name]: definition(s) }).symbols[s.name] as (...args: unknown[]) => unknown,
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
  const env: ProcessEnvironment = {
    get: (name) => Deno.env.get(name),
    delete: (name) => Deno.env.delete(name),
  };

  return {
    runtime: "deno",
    platform,
    libcPath,
    libc: libc as ForeignFunctions<LibcSymbols>,
    open: (path, table) => openFirst("deno", path, [path], (p) => bindAll(bind(platform, p, table))).library,
    errno: () => errnoView.getInt32(0),
    address: (buffer) => BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer as Uint8Array<ArrayBuffer>))),
    env,
    pid: Deno.pid,
    exit: (code) => Deno.exit(code),
    unrefTimer: (timer) => Deno.unrefTimer(timer as number),
  };
}
