/**
 * `listenFds()`: every fd the service manager passed, each described.
 *
 * @module
 */

import { type ActivationOptions, readState, rethrow } from "./collect.ts";
import { describeFd } from "../fd/inspect.ts";
import type { FdDescription } from "../types.ts";

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
