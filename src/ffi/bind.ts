/**
 * Binding a neutral symbol table (`src/ffi/symbols.ts`) through a runtime's
 * FFI: resolve it for the platform, bind each function at its first use,
 * adapt results to the table's JS types.
 *
 * @module
 */

import { HandoverError } from "../sys/errors.ts";
import type { ForeignFunctions, NativeType, Platform, RawFunction, ResolvedSymbol, SymbolTable } from "../types.ts";
export type { ForeignFunctions, NativeType, ResolvedSymbol, SymbolDefinition, SymbolTable } from "../types.ts";

/**
 * The functions of a table that exist on a platform, with their exported
 * names and the stack padding Apple's arm64 ABI needs for variadic calls.
 *
 * @param table The neutral table.
 * @param platform The platform to bind for.
 * @returns What a backend declares to its FFI.
 *
 * @example
 * ```ts
 * import { resolveSymbols } from "./bind.ts";
 * import { LIBC_SYMBOLS } from "./symbols.ts";
 * const linux = resolveSymbols(LIBC_SYMBOLS, { os: "linux", arch: "x86_64" });
 * linux.some((s) => s.name === "accept4"); // true
 * ```
 */
export function resolveSymbols(table: SymbolTable, platform: Platform): ResolvedSymbol[] {
  const resolved: ResolvedSymbol[] = [];
  for (const [name, definition] of Object.entries(table)) {
    if (definition.os !== undefined && definition.os !== platform.os) continue;
    const symbol = definition.symbol?.[`${platform.os}-${platform.arch}`] ?? name;
    let parameters: readonly NativeType[] = definition.parameters;
    let padAt = -1;
    let padCount = 0;
    if (definition.variadic !== undefined && platform.os === "darwin" && platform.arch === "aarch64") {
      // x0..x7 carry register arguments; fill them so the variadic ones go to the stack.
      padAt = definition.variadic;
      padCount = Math.max(0, 8 - definition.variadic);
      const padding: NativeType[] = new Array(padCount).fill("usize");
      parameters = [
        ...definition.parameters.slice(0, padAt),
        ...padding,
        // Each variadic argument takes a whole 8-byte stack slot.
        ...definition.parameters.slice(padAt).map((): NativeType => "usize"),
      ];
    }
    resolved.push({
      name,
      symbol,
      parameters,
      result: definition.result,
      padAt,
      padCount,
      ...(definition.rare ? { rare: true } : {}),
    });
  }
  return resolved;
}

/**
 * Wraps the raw functions a backend bound so that they follow the table's
 * JS types in every dialect: `isize` results as numbers, `pointer` results
 * as bigints, padding inserted where {@link resolveSymbols} asked for it.
 * Functions that need none of this are returned as they are (no extra call).
 *
 * @param resolved What the backend bound.
 * @param raw The functions its FFI returned, by name.
 * @returns The functions, typed by the table.
 *
 * @example A 64-bit result becomes a number
 * ```ts
 * import { adaptFunctions, resolveSymbols } from "./bind.ts";
 * const table = { write: { parameters: ["i32", "buffer", "usize"], result: "isize" } } as const;
 * const resolved = resolveSymbols(table, { os: "linux", arch: "x86_64" });
 * // A stand-in for a dialect that returns 64-bit integers as bigints, as Deno's does.
 * const functions = adaptFunctions<typeof table>(resolved, { write: () => 5n });
 * functions.write(1, new Uint8Array(5), 5); // 5
 * ```
 */
export function adaptFunctions<T extends SymbolTable>(
  resolved: readonly ResolvedSymbol[],
  raw: Readonly<Record<string, RawFunction>>,
): ForeignFunctions<T> {
  const functions: Record<string, RawFunction> = {};
  for (const s of resolved) {
    const call = raw[s.name];
    if (typeof call !== "function") throw new TypeError(`The backend did not bind ${s.symbol}`);
    let fn = call;
    if (s.padCount > 0) {
      const { padAt, padCount } = s;
      const inner = fn;
      fn = (...args: unknown[]) =>
        inner(
          ...args.slice(0, padAt),
          ...new Array(padCount).fill(0),
          ...args.slice(padAt).map((a) => BigInt(a as number)),
        );
    }
    if (s.result === "isize") {
      const inner = fn;
      fn = (...args: unknown[]) => Number(inner(...args));
    } else if (s.result === "pointer") {
      const inner = fn;
      fn = (...args: unknown[]) => BigInt(inner(...args) ?? 0);
    }
    functions[s.name] = fn;
  }
  return functions as unknown as ForeignFunctions<T>;
}

/**
 * The functions of a table, each bound through `bindOne` the first time it
 * is used and adapted like {@link adaptFunctions}. A process that calls five
 * functions pays for five bindings, not for the whole table: in Deno each
 * binding compiles a trampoline (about 0.1 ms), which made loading the
 * backend the largest part of `collect()`'s start-up time.
 *
 * @param resolved The functions to offer (from {@link resolveSymbols}).
 * @param bindOne Binds one function through the runtime's FFI; may throw.
 * @param where The runtime and library, for the error when binding fails.
 * @returns The functions, typed by the table.
 * @throws {HandoverError} `ELIBACC` when a function is first used and cannot be bound.
 *
 * @example Bind libc lazily
 * ```ts
 * import "../../mod.ts"; // loads the FFI backend
 * import { lazyFunctions, resolveSymbols } from "./bind.ts";
 * import { LIBC_SYMBOLS, type LibcSymbols } from "./symbols.ts";
 * import { currentBackend } from "./system.ts";
 * const backend = currentBackend();
 * const libc = lazyFunctions<LibcSymbols>(
 *   resolveSymbols(LIBC_SYMBOLS, backend.platform),
 *   (symbol) => backend.bind(backend.libcPath, symbol),
 *   { runtime: backend.runtime, path: backend.libcPath },
 * );
 * libc.getpid() === backend.pid; // true, and getpid() is the only function bound
 * ```
 */
export function lazyFunctions<T extends SymbolTable>(
  resolved: readonly ResolvedSymbol[],
  bindOne: (symbol: ResolvedSymbol) => RawFunction,
  where: { readonly runtime: string; readonly path: string },
): ForeignFunctions<T> {
  const functions: Record<string, unknown> = {};
  const descriptors: PropertyDescriptorMap = {};
  for (const s of resolved) {
    descriptors[s.name] = lazyDescriptor(functions, s.name, () => bindNow(s, bindOne, where));
  }
  // One call for all: about three times faster than a defineProperty() per name (Deno, sixty names).
  return Object.defineProperties(functions, descriptors) as ForeignFunctions<T>;
}

/** Binds one resolved function now, adapted to the neutral calling convention. */
function bindNow(
  s: ResolvedSymbol,
  bindOne: (symbol: ResolvedSymbol) => RawFunction,
  where: { readonly runtime: string; readonly path: string },
): unknown {
  try {
    return adaptFunctions([s], { [s.name]: bindOne(s) })[s.name];
  } catch (cause) {
    throw new HandoverError(
      "ELIBACC",
      `handover's ${where.runtime} backend could not bind ${s.symbol} from ${where.path}: ${cause}`,
      { cause },
    );
  }
}

/** A getter that binds at the first use and then replaces itself with the bound function. */
function lazyDescriptor(functions: object, name: string, bind: () => unknown): PropertyDescriptor {
  return {
    configurable: true,
    enumerable: true,
    get(): unknown {
      const bound = bind();
      Object.defineProperty(functions, name, { value: bound, enumerable: true, writable: false, configurable: false });
      return bound;
    },
  };
}

/**
 * Like {@link lazyFunctions}, for a whole table: nothing is resolved until a
 * function is first used, so a process that calls one libc function pays for
 * one (the libc table has some sixty).
 *
 * @param table The neutral table.
 * @param platform The platform to bind for.
 * @param bindOne Binds one function through the runtime's FFI; may throw.
 * @param where The runtime and library, for the error when binding fails.
 * @returns The functions of the table that exist on this platform.
 * @throws {HandoverError} `ELIBACC` when a function is first used and cannot be bound.
 *
 * @example Only getpid() is resolved and bound
 * ```ts
 * import { lazyTable } from "./bind.ts";
 * import { LIBC_SYMBOLS } from "./symbols.ts";
 * import { currentBackend } from "./system.ts";
 * import "../../mod.ts";
 *
 * const backend = currentBackend();
 * const libc = lazyTable(LIBC_SYMBOLS, backend.platform, (s) => backend.bind(backend.libcPath, s), {
 *   runtime: backend.runtime,
 *   path: backend.libcPath,
 * });
 * libc.getpid() === backend.pid; // true
 * ```
 */
export function lazyTable<T extends SymbolTable>(
  table: T,
  platform: Platform,
  bindOne: (symbol: ResolvedSymbol) => RawFunction,
  where: { readonly runtime: string; readonly path: string },
): ForeignFunctions<T> {
  const functions: Record<string, unknown> = {};
  const descriptors: PropertyDescriptorMap = {};
  for (const name of Object.keys(table)) {
    const definition = table[name]!;
    if (definition.os !== undefined && definition.os !== platform.os) continue;
    descriptors[name] = lazyDescriptor(
      functions,
      name,
      () => bindNow(resolveSymbols({ [name]: definition }, platform)[0]!, bindOne, where),
    );
  }
  return Object.defineProperties(functions, descriptors) as ForeignFunctions<T>;
}

/**
 * Binds every function of a lazily bound table now, so that a library that
 * lacks one of them fails at once (for libraries other than libc, like
 * launchd's, which have only a few functions).
 *
 * @param functions What {@link lazyFunctions} returned.
 * @returns The same functions, all bound.
 * @throws {HandoverError} `ELIBACC` when one cannot be bound.
 *
 * @example A library without one of the functions fails at once
 * ```ts
 * import { HandoverError } from "../../mod.ts";
 * import { bindAll, lazyFunctions, resolveSymbols } from "./bind.ts";
 * import { currentBackend } from "./system.ts";
 * const backend = currentBackend();
 * const table = { getpid: { parameters: [], result: "i32" }, not_in_libc: { parameters: [], result: "i32" } } as const;
 * const where = { runtime: backend.runtime, path: backend.libcPath };
 * const functions = lazyFunctions<typeof table>(
 *   resolveSymbols(table, backend.platform),
 *   (symbol) => backend.bind(where.path, symbol),
 *   where,
 * ); // nothing bound yet
 * try {
 *   bindAll(functions);
 * } catch (error) {
 *   if (!(error instanceof HandoverError) || error.code !== "ELIBACC") throw error;
 * }
 * ```
 */
export function bindAll<T extends SymbolTable>(functions: ForeignFunctions<T>): ForeignFunctions<T> {
  for (const name of Object.keys(functions)) void functions[name as keyof typeof functions];
  return functions;
}
