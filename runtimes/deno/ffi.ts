/**
 * Deno's FFI for the core: one C function bound at a time with `Deno.dlopen`
 * (Deno compiles a trampoline per symbol, so binding the whole table would
 * cost milliseconds at start), errno through `__errno_location()`, and the
 * environment through `Deno.env`, whose deletion reaches C's environment.
 *
 * @module
 */

import { libcCandidates, openFirst } from "../../src/ffi/library.ts";
import { HandoverError } from "../../src/sys/errors.ts";
import { platformOf } from "../../src/sys/platform.ts";
import type { Backend, NativeType, ProcessEnvironment, RawFunction, ResolvedSymbol } from "../../src/types.ts";

/** The neutral types in `Deno.dlopen`'s words. */
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

function declaration(s: ResolvedSymbol): Deno.ForeignFunction {
  return {
    name: s.symbol,
    parameters: s.parameters.map((t) => DENO_TYPES[t] as Deno.NativeType),
    result: DENO_TYPES[s.result],
  };
}

/** `Deno.env`; `delete` reaches the C environment (what exec(3) and Deno's own spawning pass on). */
const denoEnvironment: ProcessEnvironment = {
  get: (name) => Deno.env.get(name),
  peek: (name) => {
    try {
      return Deno.permissions.querySync({ name: "env", variable: name }).state === "granted"
        ? Deno.env.get(name)
        : undefined;
    } catch {
      return undefined;
    }
  },
  delete: (name) => Deno.env.delete(name),
};

/**
 * Opens the C library through `Deno.dlopen` (needs `--allow-ffi`); binds
 * only the errno location now.
 *
 * @returns The Deno backend.
 * @throws {HandoverError} `ELIBACC` when no C library loads (or Deno runs without `--allow-ffi`).
 *
 * @example
 * ```ts ignore
 * const backend = createBackend();
 * ```
 */
export function createBackend(): Backend {
  const platform = platformOf(Deno.build.os, Deno.build.arch);
  const errnoLocation = {
    name: platform.os === "darwin" ? "__error" : "__errno_location",
    parameters: [],
    result: "pointer",
  } as const;
  const { library, path: libcPath } = openFirst(
    "deno",
    "the C library",
    libcCandidates(platform),
    (path) => Deno.dlopen(path, { errnoLocation }),
  );
  // Asking for the location leaves errno as it is; the pointer stays valid for this thread.
  const pointer = library.symbols.errnoLocation();
  if (pointer === null) {
    throw new HandoverError("ELIBACC", `${errnoLocation.name}() returned NULL in ${libcPath}`, {
      syscall: errnoLocation.name,
    });
  }
  const errnoView = new Deno.UnsafePointerView(pointer);
  return {
    runtime: "deno",
    platform,
    libcPath,
    bind: (path, s) => Deno.dlopen(path, { [s.name]: declaration(s) }).symbols[s.name] as RawFunction,
    errno: () => errnoView.getInt32(0),
    address: (buffer) => BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer as Uint8Array<ArrayBuffer>))),
    env: denoEnvironment,
    pid: Deno.pid,
    exit: (code) => Deno.exit(code),
    unrefTimer: (timer) => Deno.unrefTimer(timer as number),
    onSignal: (signal, listener) => {
      Deno.addSignalListener(signal, listener);
      return () => Deno.removeSignalListener(signal, listener);
    },
  };
}
