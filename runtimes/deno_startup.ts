/**
 * Deno's start-up calls for socket activation: the C library opened with
 * `Deno.dlopen` for `fcntl` and the errno location alone (Deno compiles a
 * trampoline per symbol, so the whole table would cost milliseconds), and the
 * environment through `Deno.env`, whose deletion reaches C's environment.
 * `runtimes/deno.ts` builds the whole backend on the same pieces.
 *
 * @module
 */

import type { ProcessEnvironment, StartupCalls } from "../src/backend.ts";
import { adaptFunctions, type NativeType, type ResolvedSymbol, resolveSymbols } from "../src/ffi.ts";
import { libcCandidates, openFirst } from "../src/library.ts";
import { platformOf } from "../src/platform.ts";
import { STARTUP_SYMBOLS, type StartupSymbols } from "../src/startup_symbols.ts";

/** The neutral types in `Deno.dlopen`'s words. */
export const DENO_TYPES: Readonly<Record<NativeType, Deno.NativeType | "void">> = {
  i32: "i32",
  u32: "u32",
  usize: "usize",
  isize: "isize",
  buffer: "buffer",
  // Raw addresses travel as bigints.
  pointer: "usize",
  void: "void",
};

/**
 * A resolved symbol as `Deno.dlopen` declares it.
 *
 * @param s The symbol.
 * @returns Its declaration.
 *
 * @example
 * ```ts ignore
 * Deno.dlopen("libc.so.6", { getpid: denoDefinition(resolved) });
 * ```
 */
export function denoDefinition(s: ResolvedSymbol): Deno.ForeignFunction {
  return {
    name: s.symbol,
    parameters: s.parameters.map((t) => DENO_TYPES[t] as Deno.NativeType),
    result: DENO_TYPES[s.result],
  };
}

/** `Deno.env`; `delete` reaches the C environment (what exec(3) and Deno's own spawning pass on). */
export const denoEnvironment: ProcessEnvironment = {
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
 * Opens the C library for the start-up calls.
 *
 * @returns The calls.
 * @throws {HandoverError} `ELIBACC` when no C library loads (or Deno runs without `--allow-ffi`).
 *
 * @example
 * ```ts ignore
 * const calls = createStartupCalls();
 * calls.fcntl(3, 1, 0); // F_GETFD
 * ```
 */
export function createStartupCalls(): StartupCalls {
  const platform = platformOf(Deno.build.os, Deno.build.arch);
  const { fcntl, errnoLocation } = STARTUP_SYMBOLS;
  const resolved = resolveSymbols({ fcntl, errnoLocation }, platform);
  const { library } = openFirst(
    "deno",
    "the C library",
    libcCandidates(platform),
    (path) => Deno.dlopen(path, Object.fromEntries(resolved.map((s) => [s.name, denoDefinition(s)]))),
  );
  const libc = adaptFunctions<Pick<StartupSymbols, "fcntl" | "errnoLocation">>(resolved, library.symbols);
  let errnoView: Deno.UnsafePointerView | undefined;
  return {
    runtime: "deno",
    os: platform.os,
    pid: Deno.pid,
    env: denoEnvironment,
    fcntl: libc.fcntl,
    errno: () => {
      // Asking for the location leaves errno as it is; the pointer stays valid for this thread.
      errnoView ??= new Deno.UnsafePointerView(Deno.UnsafePointer.create(libc.errnoLocation())!);
      return errnoView.getInt32(0);
    },
  };
}
