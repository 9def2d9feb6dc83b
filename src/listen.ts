/**
 * Socket activation with the whole library: `listenFds()` (each passed fd
 * described), launchd's `launch_activate_socket` and the `LISTEN_PIDFDID`
 * check, installed into the start-up core (`src/collect.ts`) when this
 * module loads. `collect()` and `isActivated()` are the core's.
 *
 * @module
 */

import { type ActivationOptions, installActivationExtensions, readState, rethrow } from "./collect.ts";
import { describeFd, type FdDescription, statFd } from "./inspect.ts";
import { activateLaunchdSocket, launchdLibrary } from "./launchd.ts";
import { cBuffer, readUint64 } from "./structs.ts";
import { system } from "./system.ts";

export { type ActivationOptions, collect, isActivated } from "./collect.ts";

/** One fd passed by the service manager: its name and what it is. */
export interface ListenFd extends FdDescription {
  /**
   * Its name: `FileDescriptorName=` (`LISTEN_FDNAMES`), `unknown` when the
   * manager gave none, `connection` for an `Accept=yes` connection, `stored`
   * (or its `FDNAME=`) for an fd from the fd store.
   */
  readonly name: string;
}

/**
 * The inode of this process's pidfd (what systemd 259 puts in
 * `LISTEN_PIDFDID`), or undefined when the kernel cannot tell: no
 * pidfd_open(2), or pidfds that are not on pidfs (Linux before 6.9) and so
 * share one inode. As `pidfd_get_inode_id_self_cached()` in systemd's
 * `src/basic/pidfd-util.c`.
 */
function ownPidfdInode(): bigint | undefined {
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

installActivationExtensions({
  ownPidfdInode,
  launchdSockets(name) {
    const library = launchdLibrary();
    return library === undefined ? undefined : activateLaunchdSocket(name, library);
  },
});

/**
 * Every fd the service manager passed through `LISTEN_FDS`, with its name
 * and what it is — like `sd_listen_fds_with_names()` plus `sd_is_socket*()`.
 * Does not collect anything. Empty when the process was not started by a
 * service manager (launchd sockets are only found by name, with {@link collect}).
 *
 * @param options How the environment is read, if this is the first read (see {@link ActivationOptions}).
 * @returns The fds from 3 on, each with `name`, `type`, `family`, `listening` and `address`.
 * @throws {HandoverError} `EINVAL` when the environment is malformed, `EBADF` when `LISTEN_FDS` counts an fd
 * that is not open.
 *
 * @example List what systemd passed
 * ```ts ignore
 * import { listenFds } from "@handover/handover";
 * for (const { fd, name, family, type, listening, address } of listenFds()) {
 *   console.log(fd, name, family, type, listening, address);
 * }
 * ```
 */
export function listenFds(options?: ActivationOptions): ListenFd[] {
  const state = readState(options);
  if (state.error !== undefined) rethrow(state.error);
  state.descriptions ??= state.fds.map(({ fd, name }) => Object.freeze({ ...describeFd(fd), name }));
  return [...state.descriptions];
}
