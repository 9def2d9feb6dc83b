/**
 * Bun's FFI for the core: one C function bound at a time with `bun:ffi`,
 * errno through `__errno_location()`, and the environment through
 * `process.env` plus `unsetenv(3)`, because Bun's `process.env` is its own
 * copy.
 *
 * @module
 */

import { dlopen, FFIType, ptr, read } from "bun:ffi";
import { resolveSymbols } from "../../src/ffi/bind.ts";
import { libcCandidates, openFirst } from "../../src/ffi/library.ts";
import { HandoverError } from "../../src/sys/errors.ts";
import { LIBC_SYMBOLS } from "../../src/ffi/symbols.ts";
import { platformOf } from "../../src/sys/platform.ts";
import { processFacts } from "../node/process.ts";
import type { Backend, NativeType, ProcessEnvironment, RawFunction, ResolvedSymbol } from "../../src/types.ts";

/** The neutral types in `bun:ffi`'s words. */
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

function bindOne(path: string, s: ResolvedSymbol): RawFunction {
  const library = dlopen(path, {
    [s.symbol]: { args: s.parameters.map((t) => BUN_TYPES[t]), returns: BUN_TYPES[s.result] },
  });
  return (library.symbols as Record<string, RawFunction>)[s.symbol]!;
}

/**
 * Opens the C library through `bun:ffi`; binds only the errno location now.
 *
 * @returns The Bun backend.
 * @throws {HandoverError} `ELIBACC` when no C library loads.
 *
 * @example
 * ```ts ignore
 * const backend = createBackend();
 * ```
 */
export function createBackend(): Backend {
  const platform = platformOf(process.platform, process.arch);
  const [errnoLocation] = resolveSymbols({ errnoLocation: LIBC_SYMBOLS.errnoLocation }, platform);
  const { library: location, path: libcPath } = openFirst(
    "bun",
    "the C library",
    libcCandidates(platform),
    (path) => bindOne(path, errnoLocation!),
  );
  const errnoPointer = Number(location());
  if (errnoPointer === 0) {
    throw new HandoverError("ELIBACC", `${errnoLocation!.symbol}() returned NULL in ${libcPath}`, {
      syscall: errnoLocation!.symbol,
    });
  }
  let unsetenv: RawFunction | undefined;
  const encoder = new TextEncoder();
  const env: ProcessEnvironment = {
    get: (name) => process.env[name],
    peek: (name) => process.env[name],
    delete: (name) => {
      delete process.env[name];
      // Bun's process.env is its own copy: the C environment (exec(3), Bun.spawn) needs unsetenv(3) too.
      unsetenv ??= bindOne(libcPath, resolveSymbols({ unsetenv: LIBC_SYMBOLS.unsetenv }, platform)[0]!);
      unsetenv(encoder.encode(`${name}\0`));
    },
  };
  return {
    runtime: "bun",
    platform,
    libcPath,
    bind: bindOne,
    errno: () => read.i32(errnoPointer as never, 0),
    address: (buffer) => buffer.byteLength === 0 ? 0n : BigInt(ptr(buffer)),
    env,
    ...processFacts,
  };
}
