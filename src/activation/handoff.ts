/**
 * Sockets from the `handover` launcher through wrappers. A launcher sets
 * `LISTEN_PID` to the process it starts, but users start apps through
 * wrappers (`npm start`, `npx tsx`, `node --watch`, nodemon, `deno task`,
 * `bunx`), so the app is a descendant of that process, not the process itself;
 * and a Node wrapper marks every fd it inherited close-on-exec at its start
 * (libuv's `uv_disable_stdio_inheritance()`: fds 0 to 15 and the open ones
 * right after), so fd 3 never reaches the app, and `node --watch` puts its
 * IPC channel there instead.
 *
 * So the launcher places a spare copy of each fd above that range, where
 * Node's start-up leaves it inheritable, and says in `HANDOVER_LAUNCHER` which
 * fds it passed (their inodes) and where the copies are
 * ({@link launcherHandoff}). The app then takes each fd from the first place
 * that holds that very socket ({@link takeLauncherFds}): fd 3 and on (a shell,
 * `deno task`), the spare copies (Node wrappers), or the launcher itself with
 * pidfd_getfd(2) (Bun's wrappers, which close every fd they do not pass; Linux
 * 5.6+, where the kernel lets this process trace the launcher). An fd whose
 * inode is not the one the launcher named is never used.
 *
 * systemd never sets `HANDOVER_LAUNCHER`, so its rules hold there unchanged.
 *
 * @module
 */

import { statFd } from "../fd/inspect.ts";
import { check, system } from "../ffi/system.ts";
import { HandoverError } from "../sys/errors.ts";
import { formatLauncherHandoff, LAUNCHER_VARIABLE, type LauncherHandoff, LISTEN_FDS_START } from "./environment.ts";

/**
 * The lowest fd number for the spare copies. Node's start-up marks fds 0 to
 * 15 close-on-exec whether open or not, then goes on up to the first fd that
 * is not open; 64 leaves a gap above both.
 */
export const SPARE_FDS_START = 64;

/** The highest fd number a child's stdio array can name (`childStdio()`). */
const HIGHEST_CHILD_FD = 1023;

/** What the launcher adds to a child's start. */
export interface LauncherHandoffPlan {
  /** `HANDOVER_LAUNCHER`'s name and value, for the child's environment. */
  readonly variable: readonly [name: string, value: string];
  /** The spare copies: the fd number in the child → the launcher's fd (for `childStdio()`); empty when they do not fit. */
  readonly spares: Readonly<Record<number, number>>;
}

/**
 * What the launcher gives a child besides `LISTEN_FDS`: the spare copies of
 * its fds and `HANDOVER_LAUNCHER`. The copies start at
 * {@link SPARE_FDS_START} or, for many fds, far enough above fd 3 and on to
 * leave a gap; when they would not fit below fd 1024 there are none (the app
 * can still take the fds from fd 3 on, or from the launcher).
 *
 * @param fds The launcher's fds, in the order it passes them at fd 3 and on.
 * @param pid The launcher's pid.
 * @returns The variable and the spare copies.
 * @throws {HandoverError} `EBADF` when an fd is not open.
 *
 * @example What the launcher adds for one socket
 * ```ts
 * import { close, socketpair } from "../../mod.ts";
 * import { launcherHandoff } from "./handoff.ts";
 * const [a, b] = socketpair();
 * const { variable, spares } = launcherHandoff([a], 4242);
 * variable[0]; // "HANDOVER_LAUNCHER"
 * Object.keys(spares); // ["64"]: a copy of a, placed at fd 64 in the child
 * launcherHandoff([], 4242); // a start without it closes the launcher's copy
 * close(a);
 * close(b);
 * ```
 */
export function launcherHandoff(fds: readonly number[], pid: number): LauncherHandoffPlan {
  const inodes = fds.map((fd) => statFd(fd).ino);
  let spare = Math.max(SPARE_FDS_START, 2 * (LISTEN_FDS_START + fds.length));
  if (spare + fds.length - 1 > HIGHEST_CHILD_FD) spare = 0;
  for (const [fd, copy] of copies) {
    if (!fds.includes(fd)) {
      system().libc.close(copy.fd);
      copies.delete(fd);
    }
  }
  const spares: Record<number, number> = {};
  if (spare !== 0) fds.forEach((fd, i) => spares[spare + i] = copyOf(fd, inodes[i]!));
  return { variable: [LAUNCHER_VARIABLE, formatLauncherHandoff({ pid, fds, inodes, spare })], spares };
}

/**
 * The launcher's own close-on-exec copy of each fd it passes, for the spare places: Deno's spawn refuses one fd
 * at two places of a child's stdio. Kept while the fd is passed (a listener: for the launcher's life).
 */
const copies = new Map<number, { readonly fd: number; readonly inode: bigint }>();

function copyOf(fd: number, inode: bigint): number {
  const { libc, c } = system();
  const kept = copies.get(fd);
  if (kept !== undefined && kept.inode === inode) return kept.fd;
  // Another file at that number now (a stored fd replaced): copy it afresh.
  if (kept !== undefined) libc.close(kept.fd);
  const copy = check(libc.fcntl(fd, c.F_DUPFD_CLOEXEC, 0), "fcntl", `fd ${fd}`);
  copies.set(fd, { fd: copy, inode });
  return copy;
}

/** Where one fd was found. */
type Source = "passed" | "spare" | "launcher";

/** What {@link takeLauncherFds} found: the fds, or why one is missing. */
export type LauncherFds =
  | { readonly ok: true; readonly fds: readonly number[] }
  | {
    readonly ok: false;
    /** The index (in `LISTEN_FDS`) of the first fd not found. */
    readonly missing: number;
    /** Why the launcher could not be asked, when it could not (pidfd_getfd's error). */
    readonly launcherError: HandoverError | undefined;
  };

/** The inode of an fd, or undefined when it is not open. */
function inodeOf(fd: number): bigint | undefined {
  try {
    return statFd(fd).ino;
  } catch {
    return undefined;
  }
}

/**
 * Takes the fd `fd` of process `pid` (pidfd_open(2), then pidfd_getfd(2);
 * the new fd is close-on-exec). Linux only.
 */
function fdOfProcess(pid: number, fd: number): number {
  const { libc, c, os } = system();
  if (os !== "linux") {
    throw new HandoverError("ENOTSUP", "taking an fd from another process needs Linux's pidfd_getfd(2)");
  }
  const pidfd = check(libc.syscall(c.SYS_pidfd_open, pid, 0, 0), "pidfd_open", `the launcher, pid ${pid}`);
  try {
    return check(libc.syscall(c.SYS_pidfd_getfd, pidfd, fd, 0), "pidfd_getfd", `fd ${fd} of the launcher, pid ${pid}`);
  } finally {
    libc.close(pidfd);
  }
}

/**
 * Finds each fd the launcher passed, as `HANDOVER_LAUNCHER` names it, in the
 * first place that holds that very socket: fd 3 and on, the spare copies, or
 * the launcher (pidfd_getfd(2)). The fds taken become close-on-exec, and the
 * spare copies not taken are closed, so that children inherit neither; with
 * `probe`, nothing changes (an fd taken from the launcher only to see that it
 * can be is closed again).
 *
 * @param handoff What `HANDOVER_LAUNCHER` says.
 * @param probe Only tell whether every fd can be found.
 * @returns The fds in `LISTEN_FDS` order, or the first that cannot be found and why.
 *
 * @example
 * ```ts ignore
 * const found = takeLauncherFds(parseLauncherHandoff(env.HANDOVER_LAUNCHER), false);
 * ```
 */
export function takeLauncherFds(handoff: LauncherHandoff, probe: boolean): LauncherFds {
  const { libc, c } = system();
  const taken: { fd: number; source: Source }[] = [];
  let launcherError: HandoverError | undefined;
  const undo = (): void => {
    for (const { fd, source } of taken) if (source === "launcher") libc.close(fd);
  };
  for (let i = 0; i < handoff.inodes.length; i++) {
    const inode = handoff.inodes[i]!;
    const passed = LISTEN_FDS_START + i;
    const spare = handoff.spare === 0 ? undefined : handoff.spare + i;
    if (inodeOf(passed) === inode) {
      taken.push({ fd: passed, source: "passed" });
    } else if (spare !== undefined && inodeOf(spare) === inode) {
      taken.push({ fd: spare, source: "spare" });
    } else {
      let fd: number | undefined;
      if (launcherError === undefined) {
        try {
          fd = fdOfProcess(handoff.pid, handoff.fds[i]!);
        } catch (error) {
          if (!(error instanceof HandoverError)) throw error;
          launcherError = error;
        }
      }
      if (fd !== undefined && inodeOf(fd) !== inode) {
        // The launcher's fd is another file now (it replaced the socket since): not the one it passed.
        libc.close(fd);
        fd = undefined;
      }
      if (fd === undefined) {
        undo();
        return { ok: false, missing: i, launcherError };
      }
      taken.push({ fd, source: "launcher" });
    }
  }
  if (probe) {
    undo();
  } else {
    for (const { fd } of taken) {
      const flags = check(libc.fcntl(fd, c.F_GETFD, 0), "fcntl", `fd ${fd}`);
      if ((flags & c.FD_CLOEXEC) === 0) check(libc.fcntl(fd, c.F_SETFD, flags | c.FD_CLOEXEC), "fcntl", `fd ${fd}`);
    }
    // The spare copies not taken are this process's own duplicates of sockets it holds elsewhere.
    const used = new Set(taken.map((t) => t.fd));
    if (handoff.spare !== 0) {
      handoff.inodes.forEach((inode, i) => {
        const spare = handoff.spare + i;
        if (!used.has(spare) && inodeOf(spare) === inode) libc.close(spare);
      });
    }
  }
  return { ok: true, fds: taken.map((t) => t.fd) };
}
