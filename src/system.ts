/**
 * The loaded backend with its platform's constants and layouts, and the one
 * place where a failed C call becomes a {@link HandoverError}.
 *
 * @module
 */

import type { Backend } from "./backend.ts";
import { constantsFor, type SystemConstants } from "./constants.ts";
import { errnoError } from "./errno.ts";
import { HandoverError } from "./errors.ts";
import { layoutsFor, type StructLayouts } from "./layout.ts";
import { installStartupCalls } from "./startup.ts";
import type { ForeignFunctions, LibcSymbols } from "./symbols.ts";

/** Everything a core module needs to make C calls on this platform. */
export interface System {
  readonly backend: Backend;
  readonly libc: ForeignFunctions<LibcSymbols>;
  /** The platform's C constants. */
  readonly c: SystemConstants;
  /** The platform's struct layouts. */
  readonly layout: StructLayouts;
  readonly os: Backend["platform"]["os"];
}

let cached: System | undefined;
let installed: Backend | undefined;
let loadFailure: unknown;

/**
 * Installs the backend `src/runtime.ts` loaded (or the error loading failed
 * with). The runtime detection depends on this module, not the other way
 * round, so that `runtimes/*` can use the core without reaching every backend.
 *
 * @param backend The loaded backend, or undefined when loading failed.
 * @param failure Why loading failed.
 *
 * @example
 * ```ts ignore
 * installBackend((await import("../runtimes/deno.ts")).createBackend());
 * ```
 */
export function installBackend(backend: Backend | undefined, failure?: unknown): void {
  installed = backend;
  loadFailure = backend === undefined ? failure : undefined;
  cached = undefined;
  // The backend also makes socket activation's start-up calls, when the start-up path did not load them first.
  installStartupCalls(
    backend && {
      runtime: backend.runtime,
      os: backend.platform.os,
      pid: backend.pid,
      env: backend.env,
      fcntl: (fd, command, argument) => backend.libc.fcntl(fd, command, argument),
      errno: backend.errno,
    },
    failure,
  );
}

/**
 * The loaded backend, for the synchronous API.
 *
 * @returns The backend.
 * @throws {HandoverError} The error loading failed with, or `ERR_HANDOVER_NOT_READY`
 * when it is still loading (only CommonJS code can get here: it must `await init()`).
 *
 * @example
 * ```ts ignore
 * currentBackend().runtime; // "deno", "bun" or "node"
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
 * The system context of the loaded backend.
 *
 * @returns The context.
 * @throws {HandoverError} When the backend is not loaded (see `init()`).
 *
 * @example
 * ```ts ignore
 * const { libc, c } = system();
 * ```
 */
export function system(): System {
  if (cached !== undefined) return cached;
  const backend = currentBackend();
  cached = {
    backend,
    libc: backend.libc,
    c: constantsFor(backend.platform.os),
    layout: layoutsFor(backend.platform),
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
 * @example
 * ```ts ignore
 * const fd = check(libc.socket(c.AF_UNIX, c.SOCK_DGRAM, 0), "socket");
 * ```
 */
export function check(result: number, syscall: string, context?: string): number {
  if (result >= 0) return result;
  const sys = system();
  throw errnoError(sys.os, syscall, sys.backend.errno(), context);
}

/**
 * Like {@link check}, but returns the error instead of throwing it, for
 * callers that handle some errno values (EAGAIN, EINTR) themselves.
 *
 * @param result What the C function returned.
 * @param syscall Its name, for the error.
 * @returns The error, or undefined when the call succeeded.
 *
 * @example
 * ```ts ignore
 * const error = failure(libc.sendmsg(fd, msg, flags), "sendmsg");
 * if (error?.code === "EAGAIN") await waitWritable(fd);
 * ```
 */
export function failure(result: number, syscall: string): HandoverError | undefined {
  if (result >= 0) return undefined;
  const sys = system();
  return errnoError(sys.os, syscall, sys.backend.errno());
}
