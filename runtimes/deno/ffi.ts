/**
 * Deno's FFI for the core: one C function bound at a time, errno through
 * `__errno_location()`, and the environment through `Deno.env`, whose
 * deletion reaches C's environment.
 *
 * `Deno.dlopen` compiles a trampoline for each symbol (0.2–0.4 ms each), which
 * was most of what adopting a socket cost in Deno. So a function the symbol
 * table calls rare is first called through `Deno.UnsafeFnPointer` on its
 * address (no compiling; a few µs a call) and gets its trampoline only at
 * its {@link TIER_UP}th call. Every other function gets its trampoline at
 * once.
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

/**
 * The call at which a function gets its own trampoline. Compiling one (0.2–0.4 ms) costs as much as 60 to 100 calls
 * through `Deno.UnsafeFnPointer` (2.5–6 µs each, against 0.3–0.5 through the trampoline), so no function costs
 * much more than twice what it would with its trampoline from the start, and most never need one.
 */
const TIER_UP = 64;

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
 * A function that calls `slow` until its {@link TIER_UP}th call, then the function `compile()` returns. The call
 * sites of a rare function stay a little slower after the change either way (V8 saw the wrapper), so one closure
 * with a rest parameter serves every arity.
 */
function tiered(slow: RawFunction, compile: () => RawFunction): RawFunction {
  let calls = 0;
  let fast: RawFunction | undefined;
  return (...args) => {
    if (fast === undefined && ++calls === TIER_UP) fast = compile();
    return (fast ?? slow)(...args);
  };
}

/**
 * The address of a function, without compiling anything: `Deno.dlopen` with the symbol declared as a static pointer
 * answers its address. Undefined when it cannot be had (then binding it the usual way says why).
 */
function addressOf(path: string, s: ResolvedSymbol): Deno.PointerObject | undefined {
  try {
    return Deno.dlopen(path, { [s.name]: { name: s.symbol, type: "pointer" } }).symbols[s.name] ?? undefined;
  } catch {
    return undefined;
  }
}

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
  const compile = (path: string, s: ResolvedSymbol): RawFunction =>
    Deno.dlopen(path, { [s.name]: declaration(s) }).symbols[s.name] as RawFunction;
  // Only what the table calls rare (adoption's and inspection's functions) goes through its address first: the
  // others get their trampoline at once, so that a call site only ever sees that one function and V8 calls it
  // directly (a call site that first saw the wrapper below stays slower: 0.2 µs a call, measured on socketpair() +
  // close()).
  const bind = (path: string, s: ResolvedSymbol): RawFunction => {
    const found = s.rare ? addressOf(path, s) : undefined;
    if (found === undefined) return compile(path, s);
    const slow = new Deno.UnsafeFnPointer(found as Deno.PointerObject<never>, declaration(s));
    return tiered((...args) => slow.call(...args), () => compile(path, s));
  };
  const errnoView = new Deno.UnsafePointerView(pointer);
  return {
    runtime: "deno",
    platform,
    libcPath,
    bind,
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
