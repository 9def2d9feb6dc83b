/**
 * What socket activation needs beyond the environment on macOS and with
 * systemd 259: launchd's `launch_activate_socket` and the `LISTEN_PIDFDID`
 * check. `src/activation/collect.ts` loads this module only where the
 * environment asks for it.
 *
 * @module
 */

import { statFd } from "../fd/inspect.ts";
import { system } from "../ffi/system.ts";
import { cBuffer, readUint64 } from "../sys/memory.ts";
import { activateLaunchdSocket, launchdLibrary } from "./launchd.ts";

/**
 * The inode of this process's pidfd (what systemd 259 puts in
 * `LISTEN_PIDFDID`), or undefined when the kernel cannot tell: no
 * pidfd_open(2), or pidfds that are not on pidfs (Linux before 6.9) and so
 * share one inode. As `pidfd_get_inode_id_self_cached()` in systemd's
 * `src/basic/pidfd-util.c`.
 *
 * @returns The inode, or undefined.
 *
 * @example
 * ```ts ignore
 * ownPidfdInode(); // 2050n on Linux 6.9 and later
 * ```
 */
export function ownPidfdInode(): bigint | undefined {
  const { libc, c, layout, os } = system();
  if (os !== "linux" || layout.statfs === undefined) return undefined;
  const pidfd = libc.syscall(c.SYS_pidfd_open, system().backend.pid, 0);
  if (pidfd < 0) return undefined;
  try {
    const fs = cBuffer(layout.statfs.size);
    if (libc.fstatfs(pidfd, fs) < 0) return undefined;
    if (readUint64(fs, layout.statfs.type) !== BigInt(c.PIDFS_MAGIC)) return undefined;
    return statFd(pidfd).ino;
  } finally {
    libc.close(pidfd);
  }
}

/**
 * launchd's fds for the socket `name`, or undefined when there is no launchd
 * to ask (not macOS, and no stand-in named by `HANDOVER_LAUNCHD_LIBRARY`).
 *
 * @param name The key in the job's `Sockets` dictionary.
 * @returns The fds, or undefined.
 * @throws {HandoverError} What launchd answers: `ENOENT`, `ESRCH`, `EALREADY`.
 *
 * @example
 * ```ts ignore
 * launchdSockets("web"); // [3, 4] in a launchd job with IPv4 and IPv6 sockets
 * ```
 */
export function launchdSockets(name: string): number[] | undefined {
  const library = launchdLibrary();
  return library === undefined ? undefined : activateLaunchdSocket(name, library);
}
