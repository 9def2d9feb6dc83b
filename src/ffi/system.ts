/**
 * The loaded backend, the C library bound on it, the platform's constants
 * and layouts, and the one place where a failed C call becomes a
 * {@link HandoverError}. Holds state only: `src/ffi/loader.ts` installs the
 * backend, so that `runtimes/*` can use the core without reaching a loader.
 *
 * @module
 */

import { constantsFor, type SystemConstants } from "../sys/constants.ts";
import { errnoError } from "../sys/errno.ts";
import { HandoverError } from "../sys/errors.ts";
import { layoutsFor, type StructLayouts } from "../sys/layout.ts";
import { bindAll, lazyFunctions, lazyTable, resolveSymbols } from "./bind.ts";
import { openFirst } from "./library.ts";
import { LIBC_SYMBOLS, type LibcSymbols } from "./symbols.ts";
import type { Backend, ForeignFunctions, OperatingSystem, SymbolTable } from "../types.ts";

/** Everything a core module needs to make C calls on this platform. */
export interface System {
  readonly backend: Backend;
  readonly libc: ForeignFunctions<LibcSymbols>;
  /** The platform's C constants. */
  readonly c: SystemConstants;
  /** The platform's struct layouts. */
  readonly layout: StructLayouts;
  readonly os: OperatingSystem;
}

let installed: Backend | undefined;
let loadFailure: unknown;
let boundLibc: ForeignFunctions<LibcSymbols> | undefined;
let cached: System | undefined;

/**
 * Installs the backend the loader created (or the error creating it failed with).
 *
 * @param backend The backend, or undefined when loading failed.
 * @param failure Why loading failed.
 *
 * @example A failed load is kept and thrown by the first call
 * ```ts
 * import "../../mod.ts"; // loads the FFI backend and installs it
 * import { currentBackend, installBackend, libc } from "./system.ts";
 * const loaded = currentBackend();
 * installBackend(undefined, new Error("no --allow-ffi")); // what the loader does when loading fails
 * try {
 *   libc();
 * } catch (error) {
 *   (error as Error).message; // "no --allow-ffi"
 * }
 * installBackend(loaded);
 * ```
 */
export function installBackend(backend: Backend | undefined, failure?: unknown): void {
  installed = backend;
  loadFailure = backend === undefined ? failure : undefined;
  boundLibc = undefined;
  cached = undefined;
}

/**
 * The loaded backend, for the synchronous API.
 *
 * @returns The backend.
 * @throws {HandoverError} The error loading failed with, or `ERR_HANDOVER_NOT_READY`
 * when it is still loading (only CommonJS code can get here: it must `await init()`).
 *
 * @example Which runtime's FFI is in use
 * ```ts
 * import "../../mod.ts"; // loads the FFI backend
 * import { currentBackend } from "./system.ts";
 * currentBackend().runtime; // "deno" here; "bun" or "node" in those runtimes
 * ```
 */
export function currentBackend(): Backend {
  if (installed !== undefined) return installed;
  if (loadFailure !== undefined) throw loadFailure;
  throw new HandoverError(
    "ERR_HANDOVER_NOT_READY",
    "handover's FFI backend is still loading: await init() before the first call (only CommonJS needs this)",
  );
}

/**
 * An environment variable, read through the runtime.
 *
 * @param name The variable.
 * @returns Its value, or undefined when it is not set.
 * @throws {HandoverError} `EACCES` when the runtime does not let handover read it (Deno without `--allow-env`).
 *
 * @example
 * ```ts
 * import { environmentVariable } from "./system.ts";
 * import { loadBackend } from "./loader.ts";
 * await loadBackend();
 * typeof environmentVariable("PATH"); // "string"
 * ```
 */
export function environmentVariable(name: string): string | undefined {
  const { env } = currentBackend();
  try {
    return env.get(name);
  } catch (cause) {
    throw new HandoverError("EACCES", `handover cannot read ${name} (in Deno: allow it with --allow-env)`, { cause });
  }
}

/**
 * The C library's functions, each bound at its first use.
 *
 * @returns The functions of `LIBC_SYMBOLS` that exist on this platform.
 * @throws {HandoverError} When the backend is not loaded (see `init()`).
 *
 * @example Call getpid(2)
 * ```ts
 * import "../../mod.ts"; // loads the FFI backend
 * import { currentBackend, libc } from "./system.ts";
 * libc().getpid() === currentBackend().pid; // true
 * ```
 */
export function libc(): ForeignFunctions<LibcSymbols> {
  if (boundLibc !== undefined) return boundLibc;
  const backend = currentBackend();
  boundLibc = lazyTable(LIBC_SYMBOLS, backend.platform, (s) => backend.bind(backend.libcPath, s), {
    runtime: backend.runtime,
    path: backend.libcPath,
  });
  return boundLibc;
}

/**
 * Binds a table from another library (launchd's in libSystem, or a test's
 * stand-in), every function at once so that a library lacking one fails here.
 *
 * @param path The library.
 * @param table Its functions.
 * @returns The bound functions.
 * @throws {HandoverError} `ELIBACC` when the library or a function cannot be loaded.
 *
 * @example A table of its own, and a library that is not there
 * ```ts
 * import { HandoverError } from "../../mod.ts";
 * import { currentBackend, openLibrary } from "./system.ts";
 * const table = { getppid: { parameters: [], result: "i32" } } as const;
 * openLibrary(currentBackend().libcPath, table).getppid() > 0; // true
 * try {
 *   openLibrary("/usr/lib/libSystem.B.dylib", table); // launchd's library, on Linux
 * } catch (error) {
 *   if (!(error instanceof HandoverError) || error.code !== "ELIBACC") throw error;
 * }
 * ```
 */
export function openLibrary<T extends SymbolTable>(path: string, table: T): ForeignFunctions<T> {
  const backend = currentBackend();
  const resolved = resolveSymbols(table, backend.platform);
  return openFirst(
    backend.runtime,
    path,
    [path],
    (p) => bindAll(lazyFunctions<T>(resolved, (s) => backend.bind(p, s), { runtime: backend.runtime, path: p })),
  ).library;
}

/**
 * The system context of the loaded backend.
 *
 * @returns The context.
 * @throws {HandoverError} When the backend is not loaded (see `init()`).
 *
 * @example The functions and constants of this platform
 * ```ts
 * import "../../mod.ts"; // loads the FFI backend
 * import { system } from "./system.ts";
 * const { libc, c, os } = system();
 * libc.getpid() > 0; // true
 * c.AF_UNIX; // 1
 * os; // "linux" or "darwin"
 * ```
 */
export function system(): System {
  if (cached !== undefined) return cached;
  const backend = currentBackend();
  // The constants and layouts are built at their first use (collect() needs three constants and no layout).
  let c: SystemConstants | undefined;
  let layout: StructLayouts | undefined;
  cached = {
    backend,
    libc: libc(),
    get c(): SystemConstants {
      return c ??= constantsFor(backend.platform.os);
    },
    get layout(): StructLayouts {
      return layout ??= layoutsFor(backend.platform);
    },
    os: backend.platform.os,
  };
  return cached;
}

/**
 * Returns `result` when the C call succeeded; throws the errno as a
 * {@link HandoverError} when it returned a negative value. Read errno before
 * any other call, as here.
 *
 * @param result What the C function returned.
 * @param syscall Its name, for the error.
 * @param context Words about what was being done, for the error.
 * @returns `result`.
 * @throws {HandoverError} With `code`, `errno` and `syscall` of the failure.
 *
 * @example A failed call becomes an error with its errno
 * ```ts
 * import { close, HandoverError } from "../../mod.ts";
 * import { check, system } from "./system.ts";
 * const { libc, c } = system();
 * const fd = check(libc.socket(c.AF_UNIX, c.SOCK_DGRAM, 0), "socket"); // the new fd
 * close(fd);
 * try {
 *   check(libc.close(-1), "close", "fd -1");
 * } catch (error) {
 *   (error as HandoverError).code; // "EBADF"
 * }
 * ```
 */
export function check(result: number, syscall: string, context?: string): number {
  if (result >= 0) return result;
  const backend = currentBackend();
  throw errnoError(backend.platform.os, syscall, backend.errno(), context);
}

/**
 * Like {@link check}, but returns the error instead of throwing it, for
 * callers that handle some errno values (EAGAIN, EINTR) themselves.
 *
 * @param result What the C function returned.
 * @param syscall Its name, for the error.
 * @returns The error, or undefined when the call succeeded.
 *
 * @example Wait when a non-blocking read finds nothing
 * ```ts
 * import { close, socketpair, waitForFd } from "../../mod.ts";
 * import { cBuffer, cString } from "../sys/memory.ts";
 * import { failure, system } from "./system.ts";
 * const { libc } = system();
 * const [a, b] = socketpair();
 * const buffer = cBuffer(16);
 * failure(libc.read(a, buffer, 16), "read")?.code; // "EAGAIN": nothing was sent yet
 * libc.write(b, cString("hi"), 3);
 * await waitForFd(a, "readable", { timeoutMs: 5000 });
 * failure(libc.read(a, buffer, 16), "read"); // undefined: it read "hi" and its NUL
 * close(a);
 * close(b);
 * ```
 */
export function failure(result: number, syscall: string): HandoverError | undefined {
  if (result >= 0) return undefined;
  const backend = currentBackend();
  return errnoError(backend.platform.os, syscall, backend.errno());
}
