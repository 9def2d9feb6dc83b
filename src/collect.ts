/**
 * Socket activation at start-up: the fds systemd (`LISTEN_FDS`) passed to
 * this process, by name, with nothing loaded but the environment rules
 * (`src/activation.ts`) and the start-up calls (`src/startup.ts`: `fcntl`
 * and, in Bun, `unsetenv`). What needs more — launchd's
 * `launch_activate_socket`, the `LISTEN_PIDFDID` check, `listenFds()`'s
 * descriptions — is in `src/listen.ts`, which installs it here
 * ({@link installActivationExtensions}).
 *
 * The first call of {@link collect} reads the environment once, checks it
 * with libsystemd's rules, sets `FD_CLOEXEC` on every passed fd, keeps the
 * result for the life of the process and, by default, removes the variables
 * from the environment (the runtime's view and the C environment both), so
 * that children do not inherit them.
 *
 * @module
 */

import {
  FIRST_FD_VARIABLE,
  LISTEN_VARIABLES,
  type ListenEnvironment,
  matchFdNames,
  parseListenEnvironment,
} from "./activation.ts";
import { HandoverError } from "./errors.ts";
import { FD_FLAG_COMMANDS } from "./startup_symbols.ts";
import { startupCalls } from "./startup.ts";
import type { ListenFd } from "./listen.ts";

/**
 * The environment variable that names another library to call
 * `launch_activate_socket` in (and `free` from), on any operating system.
 * For tests: handover's own suite sets it to a stand-in built from a few
 * lines of C.
 */
export const LAUNCHD_LIBRARY_VARIABLE = "HANDOVER_LAUNCHD_LIBRARY";

/** How the activation environment is read; only the first read in a process uses them. */
export interface ActivationOptions {
  /**
   * Remove `LISTEN_PID`, `LISTEN_PIDFDID`, `LISTEN_FDS`, `LISTEN_FDNAMES`
   * (and `LISTEN_FDS_FIRST_FD`) from the environment after reading them, so
   * that child processes do not inherit them. Default true.
   */
  readonly unsetEnvironment?: boolean;
  /**
   * Also accept launchers that cannot set `LISTEN_PID` (systemfd `--no-pid`:
   * `LISTEN_PID` absent) and honour `LISTEN_FDS_FIRST_FD` (fds that do not
   * start at 3). Default false: libsystemd's rules exactly.
   */
  readonly lenient?: boolean;
}

interface PassedFd {
  readonly fd: number;
  readonly name: string;
}

/** What the first read of the environment found. */
export interface ActivationState {
  /** The environment was addressed to this process (a later collect() does not throw ESRCH). */
  readonly addressed: boolean;
  /** Why it was not, for ESRCH. */
  readonly reason: string;
  /** The environment was addressed to this process but malformed. */
  readonly error: HandoverError | undefined;
  readonly fds: readonly PassedFd[];
  readonly collected: Set<string>;
  /** What `listenFds()` found, once it looked. */
  descriptions: readonly ListenFd[] | undefined;
}

// Shared by every copy of handover in the process (an ES module and a
// CommonJS build loaded side by side): the environment can be read only once.
const STATE = Symbol.for("handover.activation.v1");
// Shared the same way: the main entry, in a build of its own, installs them for the start-up entry's collect().
const EXTENSIONS = Symbol.for("handover.activation.extensions.v1");

interface StateHolder {
  [STATE]?: ActivationState;
  [EXTENSIONS]?: ActivationExtensions;
}

/** What the whole library adds to activation (`src/listen.ts` installs it). */
export interface ActivationExtensions {
  /**
   * The inode of this process's pidfd (what systemd 259 puts in
   * `LISTEN_PIDFDID`), or undefined when the kernel cannot tell.
   */
  ownPidfdInode(): bigint | undefined;
  /** launchd's fds for `name`, or undefined when there is no launchd to ask. */
  launchdSockets(name: string): number[] | undefined;
}

/**
 * Installs launchd and the pidfd check (called once, by `src/listen.ts`).
 *
 * @param installed The extensions.
 *
 * @example
 * ```ts ignore
 * installActivationExtensions({ ownPidfdInode, launchdSockets });
 * ```
 */
export function installActivationExtensions(installed: ActivationExtensions): void {
  (globalThis as StateHolder)[EXTENSIONS] = installed;
}

const extensions = (): ActivationExtensions | undefined => (globalThis as StateHolder)[EXTENSIONS];

// Without the extensions (the start-up path, when LISTEN_PIDFDID was not visible at import: Deno that asked for
// --allow-env at the first call), the pidfd check is skipped, as libsystemd skips it where the kernel cannot tell.
const ownPidfdInode = (): bigint | undefined => extensions()?.ownPidfdInode();

function readEnvironment(): ListenEnvironment {
  const { env } = startupCalls();
  try {
    return {
      LISTEN_PID: env.get("LISTEN_PID"),
      LISTEN_PIDFDID: env.get("LISTEN_PIDFDID"),
      LISTEN_FDS: env.get("LISTEN_FDS"),
      LISTEN_FDNAMES: env.get("LISTEN_FDNAMES"),
      LISTEN_FDS_FIRST_FD: env.get(FIRST_FD_VARIABLE),
    };
  } catch (cause) {
    throw new HandoverError(
      "EACCES",
      "handover cannot read the LISTEN_* environment variables (in Deno: allow it with --allow-env)",
      { cause },
    );
  }
}

/**
 * Removes the activation variables from the runtime's environment (what
 * `node:child_process` builds a child's environment from) and from the C
 * environment (`unsetenv(3)`: what exec(3) and Deno's own spawning pass on);
 * each backend's `env.delete` does both.
 */
function unsetListenEnvironment(): void {
  const { env } = startupCalls();
  for (const name of [...LISTEN_VARIABLES, FIRST_FD_VARIABLE]) env.delete(name);
}

/** `fd_cloexec(fd, true)` of libsystemd: fails with EBADF when the fd is not open. */
function markCloseOnExec(fd: number, countText: string | undefined): void {
  const calls = startupCalls();
  const { F_GETFD, F_SETFD, FD_CLOEXEC, EBADF } = FD_FLAG_COMMANDS;
  // F_GETFD and F_SETFD fail only with EBADF. Any other errno is named by its number (as errnoName() names
  // one it does not know), so that the start-up path carries no errno tables.
  const failure = (result: number): HandoverError | undefined => {
    if (result >= 0) return undefined;
    const errno = calls.errno();
    const message = errno === EBADF
      ? `LISTEN_FDS is ${JSON.stringify(countText)} but fd ${fd} is not open`
      : `fcntl() failed with errno ${errno} on fd ${fd}`;
    return new HandoverError(errno === EBADF ? "EBADF" : `E${errno}`, message, { errno, syscall: "fcntl" });
  };
  const flags = calls.fcntl(fd, F_GETFD, 0);
  const error = failure(flags);
  if (error !== undefined) throw error;
  if ((flags & FD_CLOEXEC) === 0) {
    const set = failure(calls.fcntl(fd, F_SETFD, flags | FD_CLOEXEC));
    if (set !== undefined) throw set;
  }
}

/**
 * The activation state of this process, read (and the environment unset) at the first call.
 *
 * @param options How to read it, if this is the first call.
 * @returns The state, shared by every copy of handover in the process.
 *
 * @example
 * ```ts ignore
 * const { fds } = readState();
 * ```
 */
export function readState(options: ActivationOptions = {}): ActivationState {
  const holder = globalThis as StateHolder;
  const existing = holder[STATE];
  if (existing !== undefined) return existing;
  const env = readEnvironment();
  let state: ActivationState;
  try {
    const parsed = parseListenEnvironment(env, {
      pid: startupCalls().pid,
      lenient: options.lenient ?? false,
      ownPidfdId: ownPidfdInode,
    });
    if (!parsed.addressed) {
      state = {
        addressed: false,
        reason: parsed.reason,
        error: undefined,
        fds: [],
        collected: new Set(),
        descriptions: [],
      };
    } else {
      // libsystemd's order: every fd must be open (and becomes close-on-exec), then the names must match.
      for (let fd = parsed.first; fd < parsed.first + parsed.count; fd++) markCloseOnExec(fd, env.LISTEN_FDS);
      const names = matchFdNames(parsed.count, parsed.names);
      state = {
        addressed: true,
        reason: "",
        error: undefined,
        fds: names.map((name, i) => ({ fd: parsed.first + i, name })),
        collected: new Set(),
        descriptions: undefined,
      };
    }
  } catch (error) {
    if (!(error instanceof HandoverError)) throw error;
    state = { addressed: true, reason: "", error, fds: [], collected: new Set(), descriptions: [] };
  } finally {
    // Like libsystemd, unset whatever the outcome, so children never see a stale or broken environment.
    if (options.unsetEnvironment ?? true) unsetListenEnvironment();
  }
  holder[STATE] = state;
  return state;
}

/**
 * Throws a stored error again, as a fresh error whose stack shows the caller.
 *
 * @param error The stored error.
 * @throws {HandoverError} Always.
 *
 * @example
 * ```ts ignore
 * if (state.error !== undefined) rethrow(state.error);
 * ```
 */
export function rethrow(error: HandoverError): never {
  throw new HandoverError(error.code, error.message, { errno: error.errno, syscall: error.syscall, cause: error });
}

/**
 * Takes the fds the service manager passed for the socket `name`: systemd's
 * `FileDescriptorName=` (`LISTEN_FDNAMES`, fds without a name are
 * `unknown`), or launchd's `Sockets` key on macOS. One name can carry
 * several fds (several `ListenStream=` in one `.socket` unit; IPv4 and IPv6
 * from launchd). Each name can be collected once; the fds are close-on-exec.
 *
 * @param name The socket's name.
 * @param options How the environment is read, if this is the first read (see {@link ActivationOptions}).
 * @returns The fds, in the order the manager passed them.
 * @throws {HandoverError} `ESRCH` when this process was not started by a service manager (no `LISTEN_FDS`,
 * `LISTEN_PID` is another process, or launchd says so); `ENOENT` when no socket has that name; `EALREADY` when
 * the name was collected before; `EINVAL` when the environment is malformed (the message names the variable and
 * its value); `EBADF` when `LISTEN_FDS` counts an fd that is not open.
 * @throws {TypeError} When `name` is not a string.
 *
 * @example Serve a systemd socket named "web" with node:http, or a port of your own
 * ```ts ignore
 * import http from "node:http";
 * import { collect, HandoverError } from "@handover/handover";
 *
 * const server = http.createServer((_req, res) => res.end("hello\n"));
 * try {
 *   const [fd] = collect("web");
 *   server.listen({ fd });
 * } catch (error) {
 *   if (!(error instanceof HandoverError && error.code === "ESRCH")) throw error;
 *   server.listen(8080); // started directly, not by systemd
 * }
 * ```
 */
export function collect(name: string, options?: ActivationOptions): number[] {
  if (typeof name !== "string") throw new TypeError(`Expected a socket name string, got ${typeof name}`);
  const state = readState(options);
  if (state.error !== undefined) rethrow(state.error);
  if (state.collected.has(name)) {
    throw new HandoverError(
      "EALREADY",
      `The fds named ${JSON.stringify(name)} were already collected (collect() hands each name out once)`,
    );
  }
  if (!state.addressed) {
    const fds = extensions()?.launchdSockets(name);
    if (fds === undefined) throw new HandoverError("ESRCH", `Not started by a service manager: ${state.reason}`);
    state.collected.add(name);
    return fds;
  }
  const fds = state.fds.filter((passed) => passed.name === name).map((passed) => passed.fd);
  if (fds.length === 0) {
    const names = [...new Set(state.fds.map((passed) => JSON.stringify(passed.name)))].join(", ");
    throw new HandoverError(
      "ENOENT",
      `No fd named ${JSON.stringify(name)} was passed; the service manager passed ${names}`,
    );
  }
  state.collected.add(name);
  return fds;
}

/**
 * Whether a service manager passed fds to this process through the
 * environment, so that {@link collect} will not throw `ESRCH`: `LISTEN_PID`
 * is this process (and `LISTEN_FDS` is set), or the environment was already
 * read and was. Reads no fd and never throws; leaves the environment as it
 * is. (launchd cannot be asked without a socket name: on macOS call
 * {@link collect} and handle `ESRCH`.)
 *
 * @param options Lenient mode, as for {@link collect}.
 * @returns True when started with sockets.
 *
 * @example Socket activation or a port of our own
 * ```ts ignore
 * import { collect, isActivated } from "@handover/handover";
 * const listen = isActivated() ? { fd: collect("web")[0] } : { port: 8080 };
 * ```
 */
export function isActivated(options: Pick<ActivationOptions, "lenient"> = {}): boolean {
  try {
    const existing = (globalThis as StateHolder)[STATE];
    if (existing !== undefined) return existing.addressed;
    const parsed = parseListenEnvironment(readEnvironment(), {
      pid: startupCalls().pid,
      lenient: options.lenient ?? false,
      ownPidfdId: ownPidfdInode,
    });
    return parsed.addressed;
  } catch (error) {
    // A malformed environment addressed to us: collect() reports it (EINVAL), not ESRCH.
    return error instanceof HandoverError && error.code === "EINVAL";
  }
}
