/**
 * What socket activation needs beyond libsystemd's rules: launchd's
 * `launch_activate_socket` (macOS), the `LISTEN_PIDFDID` check (systemd
 * 259), the sockets of the `handover` launcher behind a wrapper, and the
 * explanation when nothing was passed to this process.
 * `src/activation/collect.ts` loads this module only where the environment
 * asks for it: not for a process systemd started with sockets.
 *
 * @module
 */

import { statFd } from "../fd/inspect.ts";
import { system } from "../ffi/system.ts";
import { HandoverError } from "../sys/errors.ts";
import { cBuffer, readUint64 } from "../sys/memory.ts";
import { explainLauncherFdsLost, processEntry } from "./diagnosis.ts";
import {
  type ListenEnvironment,
  type ListenEnvironmentResult,
  parseLauncherHandoff,
  parseSystemdInt,
} from "./environment.ts";
import { takeLauncherFds } from "./handoff.ts";
import { activateLaunchdSocket, launchdLibrary } from "./launchd.ts";

export { explainNotAddressed } from "./diagnosis.ts";

/** What {@link launcherFds} found. */
export type LauncherFdsResult =
  /** The launcher did not pass these (no `HANDOVER_LAUNCHER`, or one left from another start): libsystemd's rules decide. */
  | undefined
  /** The fds, in `LISTEN_FDS` order. */
  | { readonly fds: readonly number[]; readonly lost?: undefined }
  /** The launcher passed them for this process, but they did not reach it: why. */
  | { readonly fds?: undefined; readonly lost: string };

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
  const pidfd = libc.syscall(c.SYS_pidfd_open, system().backend.pid, 0, 0);
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

/**
 * The fds the `handover` launcher passed, when they were meant for this
 * process or a wrapper that started it: `HANDOVER_LAUNCHER` is set, and
 * either `LISTEN_PID` names this process and the launcher is its parent (a
 * watcher like `bun --watch` restarted it in place), or `LISTEN_PID` names
 * another process (a wrapper: `npm start`, `node --watch`, …) or is not set.
 * Each fd is the one whose inode the launcher named, found at fd 3 and on,
 * at the launcher's spare copies, or in the launcher itself (see
 * `src/activation/handoff.ts`).
 *
 * @param env The variables as read.
 * @param parsed What libsystemd's rules made of them.
 * @param probe Only tell whether the fds can be found (`isActivated()`): change nothing.
 * @returns The fds, why they were lost, or undefined when the launcher's variable does not apply.
 * @throws {HandoverError} `EINVAL` when `HANDOVER_LAUNCHER` or `LISTEN_FDS` is malformed or they disagree.
 *
 * @example
 * ```ts ignore
 * launcherFds(env, parseListenEnvironment(env, { pid }), false); // { fds: [64] } behind npm start
 * ```
 */
export function launcherFds(
  env: ListenEnvironment,
  parsed: ListenEnvironmentResult,
  probe: boolean,
): LauncherFdsResult {
  const text = env.HANDOVER_LAUNCHER;
  if (text === undefined || env.LISTEN_FDS === undefined) return undefined;
  if (!parsed.addressed && /^LISTEN_PIDFDID /.test(parsed.reason)) return undefined;
  const handoff = parseLauncherHandoff(text);
  let count: number;
  if (parsed.addressed) {
    // LISTEN_PID is this process: only a launcher's direct child restarted in place (bun --watch) may need more
    // than libsystemd's rules; another activator started by a process under the launcher leaves its variable behind.
    if (processEntry("self")?.ppid !== handoff.pid || parsed.count !== handoff.inodes.length) return undefined;
    count = parsed.count;
  } else {
    const parsedCount = parseSystemdInt(env.LISTEN_FDS);
    if (parsedCount === undefined || parsedCount <= 0) {
      throw new HandoverError("EINVAL", `LISTEN_FDS is ${JSON.stringify(env.LISTEN_FDS)}, expected a number of fds`);
    }
    count = parsedCount;
  }
  if (count !== handoff.inodes.length) {
    throw new HandoverError(
      "EINVAL",
      `HANDOVER_LAUNCHER names ${handoff.inodes.length} fds but LISTEN_FDS is ${JSON.stringify(env.LISTEN_FDS)}`,
    );
  }
  const found = takeLauncherFds(handoff, probe);
  if (found.ok) return { fds: found.fds };
  return { lost: explainLauncherFdsLost(handoff, env, found.missing, found.launcherError) };
}
