/**
 * Bun's start-up calls for socket activation: the C library opened with
 * `bun:ffi` for `fcntl`, `unsetenv` and the errno location alone (one
 * `dlopen`, one compiled stub), and the environment through `process.env`
 * plus `unsetenv(3)`, because Bun's `process.env` is its own copy.
 * `runtimes/bun.ts` builds the whole backend on the same pieces.
 *
 * @module
 */

import { dlopen, FFIType, read } from "bun:ffi";
import type { ProcessEnvironment, StartupCalls } from "../src/backend.ts";
import { adaptFunctions, type NativeType, type ResolvedSymbol, resolveSymbols } from "../src/ffi.ts";
import { libcCandidates, openFirst } from "../src/library.ts";
import { platformOf } from "../src/platform.ts";
import { STARTUP_SYMBOLS, type StartupSymbols } from "../src/startup_symbols.ts";

/** The neutral types in `bun:ffi`'s words. */
export const BUN_TYPES: Readonly<Record<NativeType, FFIType>> = {
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

/**
 * Declares resolved symbols to `bun:ffi` and returns the functions by table
 * key (`bun:ffi` names them by their exported symbol).
 *
 * @param path The library.
 * @param resolved The symbols.
 * @returns The raw functions, by table key.
 * @throws {Error} When the library or a symbol cannot be loaded.
 *
 * @example
 * ```ts ignore
 * const raw = bunOpen("libc.so.6", resolveSymbols({ getpid }, platform));
 * ```
 */
export function bunOpen(
  path: string,
  resolved: readonly ResolvedSymbol[],
): Record<string, (...args: unknown[]) => unknown> {
  const library = dlopen(
    path,
    Object.fromEntries(
      resolved.map((s) => [s.symbol, { args: s.parameters.map((t) => BUN_TYPES[t]), returns: BUN_TYPES[s.result] }]),
    ),
  );
  const symbols = library.symbols as Record<string, (...args: unknown[]) => unknown>;
  return Object.fromEntries(resolved.map((s) => [s.name, symbols[s.symbol]!]));
}

/**
 * Opens the C library for the start-up calls.
 *
 * @returns The calls, and the environment with `unsetenv(3)` bound.
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
  const resolved = resolveSymbols(STARTUP_SYMBOLS, platform);
  const { library } = openFirst("bun", "the C library", libcCandidates(platform), (path) => bunOpen(path, resolved));
  const libc = adaptFunctions<StartupSymbols>(resolved, library);
  const errnoPointer = Number(libc.errnoLocation());
  if (errnoPointer === 0) throw new Error("__errno_location() returned NULL");
  const encoder = new TextEncoder();
  const env: ProcessEnvironment = {
    get: (name) => process.env[name],
    peek: (name) => process.env[name],
    delete: (name) => {
      delete process.env[name];
      // Bun's process.env is its own copy: the C environment (exec(3), Bun.spawn) needs unsetenv(3) too.
      libc.unsetenv(encoder.encode(`${name}\0`));
    },
  };
  return {
    runtime: "bun",
    os: platform.os,
    pid: process.pid,
    env,
    fcntl: libc.fcntl,
    errno: () => read.i32(errnoPointer as never, 0),
  };
}
