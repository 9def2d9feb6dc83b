/**
 * The messages of `sd_notify(3)` by name: readiness, reloads, shutdown,
 * status, errno, the main pid, start-up extensions, the watchdog and the fd
 * store.
 *
 * @module
 */

import { errnoNumber } from "../sys/errno.ts";
import { cBuffer, readUint64 } from "../sys/memory.ts";
import { check, system } from "../ffi/system.ts";
import { notify } from "./notify.ts";
import type { NotifyOptions } from "./transport.ts";

/**
 * `CLOCK_MONOTONIC` in microseconds, read with clock_gettime(2): the clock
 * systemd compares `MONOTONIC_USEC=` with. (`performance.now()` and
 * `performance.timeOrigin` are not this clock.)
 *
 * @returns Microseconds since an arbitrary point (boot, on Linux).
 * @throws {HandoverError} When clock_gettime(2) fails.
 *
 * @example
 * ```ts
 * import { monotonicMicroseconds } from "../../mod.ts";
 * monotonicMicroseconds() > 0n; // true
 * ```
 */
export function monotonicMicroseconds(): bigint {
  const { libc, c, layout } = system();
  const timespec = cBuffer(layout.timespec.size);
  check(libc.clock_gettime(c.CLOCK_MONOTONIC, timespec), "clock_gettime", "CLOCK_MONOTONIC");
  return readUint64(timespec, layout.timespec.sec) * 1_000_000n + readUint64(timespec, layout.timespec.nsec) / 1000n;
}

/**
 * Tells the service manager that start-up (or a reload) is finished:
 * `READY=1`, and `STATUS=` when given.
 *
 * @param statusText A line for `systemctl status`.
 * @param options As for {@link notify}.
 * @returns False when `NOTIFY_SOCKET` is not set.
 * @throws {HandoverError} As {@link notify}.
 * @throws {TypeError} When `statusText` has a line break.
 *
 * @example A `Type=notify` service
 * ```ts ignore
 * import { ready } from "@handover/handover";
 * await ready("Serving on :8080");
 * ```
 */
export async function ready(statusText?: string, options?: NotifyOptions): Promise<boolean> {
  return await notify({ ready: true, status: statusText }, options);
}

/**
 * Tells the service manager that a reload began: `RELOADING=1` with
 * `MONOTONIC_USEC=` (`CLOCK_MONOTONIC` now) in the same message, as
 * `Type=notify-reload` requires. Send {@link ready} when the reload is done.
 *
 * @param statusText A line for `systemctl status`.
 * @param options As for {@link notify}.
 * @returns False when `NOTIFY_SOCKET` is not set.
 * @throws {HandoverError} As {@link notify}.
 *
 * @example Reload on SIGHUP
 * ```ts ignore
 * import { ready, reloading } from "@handover/handover";
 * process.on("SIGHUP", async () => {
 *   await reloading();
 *   await loadConfiguration();
 *   await ready();
 * });
 * ```
 */
export async function reloading(statusText?: string, options?: NotifyOptions): Promise<boolean> {
  return await notify({ reloading: true, monotonicUsec: monotonicMicroseconds(), status: statusText }, options);
}

/**
 * Tells the service manager that shutdown began: `STOPPING=1`.
 *
 * @param statusText A line for `systemctl status`.
 * @param options As for {@link notify}.
 * @returns False when `NOTIFY_SOCKET` is not set.
 * @throws {HandoverError} As {@link notify}.
 *
 * @example
 * ```ts ignore
 * import { stopping } from "@handover/handover";
 * process.on("SIGTERM", async () => {
 *   await stopping("Draining connections");
 *   server.close();
 * });
 * ```
 */
export async function stopping(statusText?: string, options?: NotifyOptions): Promise<boolean> {
  return await notify({ stopping: true, status: statusText }, options);
}

/**
 * Sets the line `systemctl status` shows: `STATUS=`.
 *
 * @param text One line.
 * @param options As for {@link notify}.
 * @returns False when `NOTIFY_SOCKET` is not set.
 * @throws {HandoverError} As {@link notify}.
 * @throws {TypeError} When `text` has a line break.
 *
 * @example
 * ```ts ignore
 * import { status } from "@handover/handover";
 * await status("42 requests in flight");
 * ```
 */
export async function status(text: string, options?: NotifyOptions): Promise<boolean> {
  return await notify({ status: text }, options);
}

/**
 * Tells the service manager why the service failed: `ERRNO=`.
 *
 * @param errno An errno value (`2`) or name (`"ENOENT"`).
 * @param options As for {@link notify}.
 * @returns False when `NOTIFY_SOCKET` is not set.
 * @throws {HandoverError} As {@link notify}.
 * @throws {TypeError} For an unknown errno name.
 * @throws {RangeError} For a negative number.
 *
 * @example
 * ```ts ignore
 * import { notifyErrno } from "@handover/handover";
 * await notifyErrno("EADDRINUSE");
 * ```
 */
export async function notifyErrno(errno: number | string, options?: NotifyOptions): Promise<boolean> {
  let value = errno;
  if (typeof errno === "string") {
    const n = errnoNumber(system().os, errno);
    if (n === undefined) throw new TypeError(`Expected an errno name like "ENOENT", got ${JSON.stringify(errno)}`);
    value = n;
  }
  return await notify({ errno: value as number }, options);
}

/**
 * Tells the service manager that the main process is now another one: `MAINPID=`.
 *
 * @param pid The new main process.
 * @param options As for {@link notify}.
 * @returns False when `NOTIFY_SOCKET` is not set.
 * @throws {HandoverError} As {@link notify}.
 * @throws {RangeError} For a pid that is not a positive integer.
 *
 * @example
 * ```ts ignore
 * import { mainPid } from "@handover/handover";
 * await mainPid(child.pid);
 * ```
 */
export async function mainPid(pid: number, options?: NotifyOptions): Promise<boolean> {
  return await notify({ mainPid: pid }, options);
}

/**
 * Asks for more time for the current start, stop or reload:
 * `EXTEND_TIMEOUT_USEC=`. Send it again before the extension runs out.
 *
 * @param ms How long from now, in milliseconds.
 * @param options As for {@link notify}.
 * @returns False when `NOTIFY_SOCKET` is not set.
 * @throws {HandoverError} As {@link notify}.
 * @throws {RangeError} For a time that is not positive and finite.
 *
 * @example A long migration at start-up
 * ```ts ignore
 * import { extendTimeout } from "@handover/handover";
 * await extendTimeout(30_000);
 * ```
 */
export async function extendTimeout(ms: number, options?: NotifyOptions): Promise<boolean> {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms <= 0) {
    throw new RangeError(`Expected a positive number of milliseconds, got ${ms}`);
  }
  return await notify({ extendTimeoutUsec: Math.max(1, Math.round(ms * 1000)) }, options);
}

/**
 * Pings the watchdog (`WATCHDOG=1`), or makes it fire now
 * (`WATCHDOG=trigger`). `startWatchdog()` pings on a timer for you.
 *
 * @param kind `"trigger"` to make the service manager act as if the watchdog timed out.
 * @param options As for {@link notify}.
 * @returns False when `NOTIFY_SOCKET` is not set.
 * @throws {HandoverError} As {@link notify}.
 *
 * @example
 * ```ts ignore
 * import { watchdog } from "@handover/handover";
 * await watchdog();
 * ```
 */
export async function watchdog(kind?: "trigger", options?: NotifyOptions): Promise<boolean> {
  if (kind !== undefined && kind !== "trigger") {
    throw new TypeError(`Expected nothing or "trigger", got ${JSON.stringify(kind)}`);
  }
  return await notify(kind === "trigger" ? "WATCHDOG=trigger" : "WATCHDOG=1", options);
}

/** Options of {@link fdStore}. */
export interface FdStoreOptions extends Omit<NotifyOptions, "fds"> {
  /** False sends `FDPOLL=0`: the manager does not drop the fds when they report an error or hang-up. */
  readonly poll?: boolean;
}

/**
 * Hands fds to the service manager to keep across restarts (`FDSTORE=1`,
 * `FDNAME=`). systemd gives them back at the next start in `LISTEN_FDS`
 * under this name; the unit needs `FileDescriptorStoreMax=`.
 *
 * @param name The name (at most 255 printable ASCII characters, no `:`).
 * @param fds The fds (1 to 253); they stay open here too.
 * @param options `poll: false` for `FDPOLL=0`, and as for {@link notify}.
 * @returns False when `NOTIFY_SOCKET` is not set.
 * @throws {HandoverError} As {@link notify}.
 * @throws {TypeError} For an invalid name.
 * @throws {RangeError} For no fds or more than 253.
 *
 * @example Keep the listening socket across `systemctl restart`
 * ```ts ignore
 * import { fdStore } from "@handover/handover";
 * await fdStore("web", [listeningFd]);
 * ```
 */
export async function fdStore(name: string, fds: readonly number[], options: FdStoreOptions = {}): Promise<boolean> {
  if (!Array.isArray(fds) || fds.length === 0) {
    throw new RangeError("Expected at least one fd to store");
  }
  const { poll, ...rest } = options;
  return await notify({ fdStore: true, fdName: name, fdPoll: poll }, { ...rest, fds });
}

/**
 * Tells the service manager to close and forget the fds stored under a
 * name: `FDSTOREREMOVE=1`, `FDNAME=`.
 *
 * @param name The name they were stored under.
 * @param options As for {@link notify}.
 * @returns False when `NOTIFY_SOCKET` is not set.
 * @throws {HandoverError} As {@link notify}.
 * @throws {TypeError} For an invalid name.
 *
 * @example
 * ```ts ignore
 * import { fdStoreRemove } from "@handover/handover";
 * await fdStoreRemove("web");
 * ```
 */
export async function fdStoreRemove(name: string, options?: NotifyOptions): Promise<boolean> {
  return await notify({ fdStoreRemove: true, fdName: name }, options);
}
