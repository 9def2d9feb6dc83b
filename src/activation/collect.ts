/**
 * Socket activation: the fds systemd (`LISTEN_FDS`) or launchd passed to
 * this process, by name. The first call of {@link collect} reads the
 * environment once, checks it with libsystemd's rules, sets `FD_CLOEXEC` on
 * every passed fd, keeps the result for the life of the process and, by
 * default, removes the variables from the environment (the runtime's view
 * and the C environment both), so that children do not inherit them.
 *
 * What only macOS or systemd 259 need (launchd's `launch_activate_socket`,
 * the `LISTEN_PIDFDID` check) is a module of its own,
 * `src/activation/manager_support.ts`, that {@link loadActivation} loads only
 * where the environment asks for it.
 *
 * @module
 */

import {
  FIRST_FD_VARIABLE,
  LAUNCHD_LIBRARY_VARIABLE,
  LAUNCHER_VARIABLE,
  LISTEN_VARIABLES,
  type ListenEnvironment,
  type ListenEnvironmentResult,
  matchFdNames,
  parseListenEnvironment,
  splitFdNames,
} from "./environment.ts";
import { HandoverError } from "../sys/errors.ts";
import { loadBackend, loadBackendSync } from "../ffi/loader.ts";
import { check, currentBackend, system } from "../ffi/system.ts";
import type { FdDescription } from "../types.ts";

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
  descriptions: readonly (FdDescription & { readonly name: string })[] | undefined;
}

// Shared by every copy of handover in the process (an ES module and a
// CommonJS build loaded side by side): the environment can be read only once.
const STATE = Symbol.for("handover.activation.v1");

interface StateHolder {
  [STATE]?: ActivationState;
}

/**
 * What `src/activation/manager_support.ts` adds: launchd, the pidfd check of systemd 259, the `handover`
 * launcher's sockets behind wrappers, and explanations.
 */
export interface ManagerSupport {
  ownPidfdInode(): bigint | undefined;
  launchdSockets(name: string): number[] | undefined;
  launcherFds(
    env: ListenEnvironment,
    parsed: ListenEnvironmentResult,
    probe: boolean,
  ):
    | { readonly fds: readonly number[]; readonly lost?: undefined }
    | { readonly fds?: undefined; readonly lost: string }
    | undefined;
  explainNotAddressed(reason: string, env: ListenEnvironment): string;
}

let support: ManagerSupport | undefined;

/**
 * Loads what {@link collect} needs in this process: the runtime's FFI and,
 * unless systemd started this process with sockets (`LISTEN_PID` is this
 * process, without `LISTEN_PIDFDID`), the support module: on macOS, with
 * `LISTEN_PIDFDID`, under the `handover` launcher (`HANDOVER_LAUNCHER`), with a
 * launchd stand-in named by `HANDOVER_LAUNCHD_LIBRARY`, or when `collect()`
 * will explain why nothing was passed. Both ES module entries call it when
 * imported (the CommonJS ones call {@link loadActivationSync}). Never rejects:
 * a failure to load (Deno without `--allow-ffi`) is thrown by `collect()`.
 *
 * @param always Load launchd and the pidfd check whatever the environment says (the main entry, which has them
 * in its module graph anyway).
 * @returns When loaded.
 *
 * @example
 * ```ts
 * import { isActivated, loadActivation } from "./collect.ts";
 * await loadActivation();
 * isActivated(); // false under deno test
 * ```
 */
export async function loadActivation(always = false): Promise<void> {
  const backend = await loadBackend().catch(() => undefined);
  if (backend === undefined || support !== undefined) return;
  const { env } = backend;
  const needed = always || backend.platform.os === "darwin" ||
    env.peek("LISTEN_PID") !== String(backend.pid) ||
    env.peek("LISTEN_PIDFDID") !== undefined ||
    env.peek(LAUNCHER_VARIABLE) !== undefined ||
    env.peek(LAUNCHD_LIBRARY_VARIABLE) !== undefined;
  if (needed) support = await import("./manager_support.ts");
}

/**
 * Loads what {@link collect} needs now, synchronously, where the runtime's
 * FFI can be loaded so (the CommonJS builds in Node and Bun: see
 * `loadBackendSync()`), so that the synchronous API works right after
 * `require()`. The CommonJS entries bundle the support module and pass it.
 *
 * @param managerSupport `src/activation/manager_support.ts`.
 * @returns True when loaded (or failed to load, kept for `collect()` to throw); false where only
 * {@link loadActivation} can load it (Deno).
 *
 * @example
 * ```ts ignore
 * import * as managerSupport from "./manager_support.ts";
 * loadActivationSync(managerSupport);
 * ```
 */
export function loadActivationSync(managerSupport: ManagerSupport): boolean {
  if (!loadBackendSync()) return false;
  support = managerSupport;
  return true;
}

// Without the support module (the start-up entry, when LISTEN_PIDFDID was not visible at import: Deno that asked
// for --allow-env at the first call), the pidfd check is skipped, as libsystemd skips it where the kernel cannot
// tell.
const ownPidfdInode = (): bigint | undefined => support?.ownPidfdInode();

function readEnvironment(): ListenEnvironment {
  const { env } = currentBackend();
  try {
    return {
      LISTEN_PID: env.get("LISTEN_PID"),
      LISTEN_PIDFDID: env.get("LISTEN_PIDFDID"),
      LISTEN_FDS: env.get("LISTEN_FDS"),
      LISTEN_FDNAMES: env.get("LISTEN_FDNAMES"),
      LISTEN_FDS_FIRST_FD: env.get(FIRST_FD_VARIABLE),
      // Only where it can be read without asking (Deno with --allow-env for LISTEN_* alone): the launcher's extra.
      HANDOVER_LAUNCHER: env.peek(LAUNCHER_VARIABLE),
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
  const { env } = currentBackend();
  for (const name of [...LISTEN_VARIABLES, FIRST_FD_VARIABLE, LAUNCHER_VARIABLE]) env.delete(name);
}

/** `fd_cloexec(fd, true)` of libsystemd: fails with EBADF when the fd is not open. */
function markCloseOnExec(fd: number, countText: string | undefined): void {
  const { libc, c } = system();
  const context = `LISTEN_FDS is ${JSON.stringify(countText)} but fd ${fd} is not open`;
  const flags = check(libc.fcntl(fd, c.F_GETFD, 0), "fcntl", context);
  if ((flags & c.FD_CLOEXEC) === 0) check(libc.fcntl(fd, c.F_SETFD, flags | c.FD_CLOEXEC), "fcntl", context);
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
      pid: currentBackend().pid,
      lenient: options.lenient ?? false,
      ownPidfdId: ownPidfdInode,
    });
    const launched = support?.launcherFds(env, parsed, false);
    if (launched?.lost !== undefined && parsed.addressed) {
      throw new HandoverError("EBADF", `LISTEN_FDS is ${JSON.stringify(env.LISTEN_FDS)} but ${launched.lost}`);
    }
    if (launched?.fds !== undefined) {
      const names = matchFdNames(
        launched.fds.length,
        env.LISTEN_FDNAMES === undefined ? undefined : splitFdNames(env.LISTEN_FDNAMES),
      );
      state = {
        addressed: true,
        reason: "",
        error: undefined,
        fds: names.map((name, i) => ({ fd: launched.fds[i]!, name })),
        collected: new Set(),
        descriptions: undefined,
      };
    } else if (!parsed.addressed) {
      const reason = launched?.lost !== undefined
        ? `${parsed.reason}, and ${launched.lost}`
        : support?.explainNotAddressed(parsed.reason, env) ?? parsed.reason;
      state = { addressed: false, reason, error: undefined, fds: [], collected: new Set(), descriptions: [] };
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
    const fds = support?.launchdSockets(name);
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
 * is this process (and `LISTEN_FDS` is set), the `handover` launcher's fds
 * reached this process through a wrapper, or the environment was already read
 * and was. Reads no fd (except, behind a wrapper, the inodes of the
 * launcher's), never throws, and leaves the environment as it is. (launchd
 * cannot be asked without a socket name: on macOS call {@link collect} and
 * handle `ESRCH`.)
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
    const env = readEnvironment();
    const parsed = parseListenEnvironment(env, {
      pid: currentBackend().pid,
      lenient: options.lenient ?? false,
      ownPidfdId: ownPidfdInode,
    });
    if (parsed.addressed) return true;
    return support?.launcherFds(env, parsed, true)?.fds !== undefined;
  } catch (error) {
    // A malformed environment addressed to us: collect() reports it (EINVAL), not ESRCH.
    return error instanceof HandoverError && error.code === "EINVAL";
  }
}
