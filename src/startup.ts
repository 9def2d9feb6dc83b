/**
 * The start-up calls of socket activation (`StartupCalls`) this process
 * uses: the start-up module's (`src/startup_loader.ts`) or a whole
 * backend's (`src/system.ts`), whichever was installed first. Holds state
 * only, so that `runtimes/*` can reach it without reaching a loader.
 *
 * @module
 */

import type { StartupCalls } from "./backend.ts";
import { HandoverError } from "./errors.ts";

let installed: StartupCalls | undefined;
let loadFailure: unknown;

/**
 * Installs start-up calls, or the error loading them failed with. The first
 * calls installed stay: the start-up module's and a whole backend's do the
 * same, and activation state must not depend on which came first.
 *
 * @param calls The calls, or undefined when loading failed.
 * @param failure Why loading failed.
 *
 * @example From a loaded backend (src/system.ts)
 * ```ts ignore
 * installStartupCalls({ runtime, os, pid, env, errno, fcntl: (fd, cmd, arg) => libc.fcntl(fd, cmd, arg) });
 * ```
 */
export function installStartupCalls(calls: StartupCalls | undefined, failure?: unknown): void {
  if (installed !== undefined) return;
  installed = calls;
  loadFailure = calls === undefined ? failure : undefined;
}

/**
 * The installed start-up calls, for the synchronous `collect()`.
 *
 * @returns The calls.
 * @throws {HandoverError} The error loading failed with, or `ERR_HANDOVER_NOT_READY` when nothing is loaded yet
 * (only CommonJS code can get here: it must `await init()`).
 *
 * @example
 * ```ts ignore
 * startupCalls().pid; // this process
 * ```
 */
export function startupCalls(): StartupCalls {
  if (installed !== undefined) return installed;
  if (loadFailure !== undefined) throw loadFailure;
  throw new HandoverError(
    "ERR_HANDOVER_NOT_READY",
    "handover's FFI backend is still loading: await init() before the first call (only CommonJS needs this)",
  );
}
