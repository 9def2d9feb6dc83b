/**
 * Resolving a socket name to the fds the service manager passed, for
 * `adopt(server, name)` and `serve(handler, { name })`.
 *
 * The activation module (`collect()`, issue 3) owns the environment. Until
 * it lands, this file reads `LISTEN_PID`/`LISTEN_FDS`/`LISTEN_FDNAMES` with
 * the same rules (libsystemd's `sd_listen_fds_with_names()`) and the same
 * signature; connecting it is `export { collect as collectNamed } from "./listen.ts"`.
 *
 * @module
 */

import { HandoverError } from "./errors.ts";
import { setCloseOnExec } from "./fd.ts";
import { system } from "./system.ts";

const FIRST_FD = 3;
const taken = new Set<string>();

/**
 * Whether this process was started with passed sockets (`LISTEN_PID` is our pid and `LISTEN_FDS` is set).
 *
 * @returns True when a service manager passed sockets to this process.
 *
 * @example
 * ```ts ignore
 * if (hasPassedSockets()) serveActivated(); else serveOnPort();
 * ```
 */
export function hasPassedSockets(): boolean {
  const { backend } = system();
  const pid = backend.env.get("LISTEN_PID");
  return pid !== undefined && Number(pid) === backend.libc.getpid() && backend.env.get("LISTEN_FDS") !== undefined;
}

/**
 * The fds passed for socket `name`; like `collect(name)`: each name once.
 *
 * @param name The `FileDescriptorName=` of the socket (`unknown` when the manager gave none).
 * @returns The fds, close-on-exec.
 * @throws {HandoverError} `ESRCH` when not started by a service manager; `ENOENT` when no
 * socket has that name; `EALREADY` when collected before; `EINVAL` for a malformed environment.
 *
 * @example
 * ```ts ignore
 * const [fd] = collectNamed("web");
 * ```
 */
export function collectNamed(name: string): number[] {
  if (typeof name !== "string") throw new TypeError(`Expected a socket name string, got ${typeof name}`);
  const { backend } = system();
  const env = backend.env;
  const pidText = env.get("LISTEN_PID");
  if (pidText === undefined || Number(pidText) !== backend.libc.getpid()) {
    throw new HandoverError(
      "ESRCH",
      pidText === undefined
        ? `No socket named ${JSON.stringify(name)}: this process was not started by a service manager (no LISTEN_PID)`
        : `LISTEN_PID is ${pidText}, not this process (${backend.libc.getpid()})`,
    );
  }
  if (taken.has(name)) throw new HandoverError("EALREADY", `The socket ${JSON.stringify(name)} was collected already`);
  const countText = env.get("LISTEN_FDS") ?? "";
  if (!/^[0-9]+$/.test(countText) || Number(countText) <= 0) {
    throw new HandoverError("EINVAL", `LISTEN_FDS must be a positive number, got ${JSON.stringify(countText)}`);
  }
  const count = Number(countText);
  const namesText = env.get("LISTEN_FDNAMES");
  const names = namesText === undefined ? new Array<string>(count).fill("unknown") : namesText.split(":");
  if (names.length !== count) {
    throw new HandoverError("EINVAL", `LISTEN_FDNAMES has ${names.length} names but LISTEN_FDS is ${count}`);
  }
  const fds = names.flatMap((n, i) => n === name ? [FIRST_FD + i] : []);
  if (fds.length === 0) {
    throw new HandoverError("ENOENT", `No socket named ${JSON.stringify(name)}; the names are ${names.join(", ")}`);
  }
  taken.add(name);
  for (const fd of fds) setCloseOnExec(fd, true);
  return fds;
}
