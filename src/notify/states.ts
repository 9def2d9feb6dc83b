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
 * ```ts
 * import { ready } from "../../mod.ts";
 * // … bind, load, warm up, then:
 * await ready("Serving on :8080"); // false when not started by a service manager
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
 * @example Reload on SIGHUP (`Type=notify-reload`)
 * ```ts
 * import process from "node:process";
 * import { ready, reloading } from "../../mod.ts";
 * async function reload(): Promise<void> {
 *   await reloading("Reading the configuration"); // RELOADING=1, MONOTONIC_USEC=…, STATUS=…
 *   // … read it again …
 *   await ready();
 * }
 * process.on("SIGHUP", reload);
 * await reload(); // what a SIGHUP does
 * process.off("SIGHUP", reload);
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
 * @example Say so before draining
 * ```ts
 * import { stopping } from "../../mod.ts";
 * await stopping("Draining connections"); // false when not started by a service manager
 * // … close the server, then exit …
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
 * @example A line for `systemctl status`
 * ```ts
 * import { status } from "../../mod.ts";
 * await status("42 requests in flight"); // false when not started by a service manager
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
 * @example Say why start-up failed
 * ```ts
 * import { notifyErrno } from "../../mod.ts";
 * await notifyErrno("EADDRINUSE"); // ERRNO=98 on Linux; false when not started by a service manager
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
 * @example Hand the service over to a child
 * ```ts
 * import { spawn } from "node:child_process";
 * import { once } from "node:events";
 * import { mainPid } from "../../mod.ts";
 * const child = spawn("sleep", ["0"]); // the process that takes over
 * const exited = once(child, "exit");
 * await mainPid(child.pid!); // false when not started by a service manager
 * await exited;
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
 * ```ts
 * import { extendTimeout } from "../../mod.ts";
 * await extendTimeout(30_000); // EXTEND_TIMEOUT_USEC=30000000; false when not started by a service manager
 * // … migrate, then send ready() …
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
 * @example Ping by hand, after each unit of work
 * ```ts
 * import { watchdog } from "../../mod.ts";
 * await watchdog(); // WATCHDOG=1; false when not started by a service manager
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
 * ```ts
 * import { close, createListener, fdStore, receiveFdsSync } from "../../mod.ts";
 * const dir = Deno.makeTempDirSync(); // a stand-in for systemd's notify socket
 * const manager = createListener({ path: `${dir}/notify`, type: "dgram" });
 * Deno.env.set("NOTIFY_SOCKET", `${dir}/notify`);
 * const listener = createListener({ port: 0 });
 * await fdStore("web", [listener], { unsetEnv: true }); // true
 * const { data, fds } = receiveFdsSync(manager); // "FDSTORE=1\nFDNAME=web" and a copy of the listener
 * for (const fd of [...fds, listener, manager]) close(fd);
 * Deno.removeSync(dir, { recursive: true });
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
 * @example Let systemd close what it keeps for you
 * ```ts
 * import { fdStoreRemove } from "../../mod.ts";
 * await fdStoreRemove("web"); // FDSTOREREMOVE=1, FDNAME=web; false when not started by a service manager
 * ```
 */
export async function fdStoreRemove(name: string, options?: NotifyOptions): Promise<boolean> {
  return await notify({ fdStoreRemove: true, fdName: name }, options);
}
