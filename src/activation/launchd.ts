/**
 * launchd socket activation: `launch_activate_socket(3)` from libSystem on
 * macOS, called through the runtime's FFI. Tests on Linux point
 * `HANDOVER_LAUNCHD_LIBRARY` at a stand-in library with the same signature.
 *
 * @module
 */

import { LAUNCHD_LIBRARY_VARIABLE } from "./environment.ts";
import { errnoName } from "../sys/errno.ts";
import { HandoverError } from "../sys/errors.ts";
import { setCloseOnExec } from "../fd/fd.ts";
import { cBuffer, cString, readInt32, readUint64 } from "../sys/memory.ts";
import { LAUNCHD_SYMBOLS, type LaunchdSymbols } from "../ffi/symbols.ts";
import { openLibrary, system } from "../ffi/system.ts";
import type { ForeignFunctions } from "../types.ts";

export { LAUNCHD_LIBRARY_VARIABLE };

/** Where macOS keeps launch_activate_socket(3). */
export const LIBSYSTEM_PATH = "/usr/lib/libSystem.B.dylib";

// launchd never hands out this many fds for one name; a larger count means a broken library.
const MAX_LAUNCHD_FDS = 65536;

let bound: { readonly path: string; readonly functions: ForeignFunctions<LaunchdSymbols> } | undefined;

/**
 * The library to ask launchd through: `HANDOVER_LAUNCHD_LIBRARY` when set,
 * libSystem on macOS, none elsewhere.
 *
 * @returns Its path, or undefined when there is no launchd.
 *
 * @example On macOS
 * ```ts ignore
 * launchdLibrary(); // "/usr/lib/libSystem.B.dylib" on macOS
 * ```
 */
export function launchdLibrary(): string | undefined {
  const { backend, os } = system();
  const chosen = backend.env.get(LAUNCHD_LIBRARY_VARIABLE);
  if (chosen !== undefined && chosen !== "") return chosen;
  return os === "darwin" ? LIBSYSTEM_PATH : undefined;
}

function launchdError(name: string, errno: number): HandoverError {
  const code = errnoName(system().os, errno);
  const call = `launch_activate_socket(${JSON.stringify(name)})`;
  const message = code === "ENOENT"
    ? `launchd has no socket named ${
      JSON.stringify(name)
    } for this job (${call} says ENOENT: add it to the Sockets dictionary of the job's plist)`
    : code === "ESRCH"
    ? `Not started by a service manager: ${call} says ESRCH (this process is not a launchd job)`
    : code === "EALREADY"
    ? `The launchd socket ${JSON.stringify(name)} was already activated by this process (${call} says EALREADY)`
    : `${call} failed with ${code}`;
  return new HandoverError(code, message, { errno, syscall: "launch_activate_socket" });
}

/**
 * Asks launchd for the fds of the socket `name` of this job's plist
 * (`Sockets` key). Copies the array launchd allocates and frees it; sets
 * `FD_CLOEXEC` on each fd.
 *
 * @param name The key in the job's `Sockets` dictionary.
 * @param path The library to call (see {@link launchdLibrary}).
 * @returns The fds (several when launchd listens on IPv4 and IPv6).
 * @throws {HandoverError} `ENOENT` (no such socket), `ESRCH` (not a launchd job),
 * `EALREADY` (already activated), `ELIBACC` when the library cannot be loaded.
 *
 * @example Ask launchd for a socket
 * ```ts ignore
 * const fds = activateLaunchdSocket("web", LIBSYSTEM_PATH);
 * ```
 */
export function activateLaunchdSocket(name: string, path: string): number[] {
  const { libc } = system();
  if (bound?.path !== path) bound = { path, functions: openLibrary(path, LAUNCHD_SYMBOLS) };
  const launchd = bound.functions;
  const arrayOut = cBuffer(8);
  const countOut = cBuffer(8);
  const result = launchd.launch_activate_socket(cString(name), arrayOut, countOut);
  if (result !== 0) throw launchdError(name, result);
  const array = readUint64(arrayOut, 0);
  const count = readUint64(countOut, 0);
  if (array === 0n) return [];
  const fds: number[] = [];
  try {
    if (count > BigInt(MAX_LAUNCHD_FDS)) {
      throw new HandoverError(
        "EINVAL",
        `launch_activate_socket(${JSON.stringify(name)}) returned ${count} fds, more than ${MAX_LAUNCHD_FDS}`,
        { syscall: "launch_activate_socket" },
      );
    }
    const bytes = cBuffer(Number(count) * 4);
    if (count > 0n) libc.memcpy(bytes, array, bytes.byteLength);
    for (let i = 0; i < Number(count); i++) fds.push(readInt32(bytes, i * 4));
  } finally {
    // launch_activate_socket(3): "the caller is responsible for calling free(3) on the returned array".
    launchd.free(array);
  }
  for (const fd of fds) setCloseOnExec(fd, true);
  return fds;
}
