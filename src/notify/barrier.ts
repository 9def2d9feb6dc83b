/**
 * `BARRIER=1`: wait until the service manager has read every notification
 * sent before, like libsystemd's `sd_notify_barrier()`
 * (src/libsystemd/sd-daemon/sd-daemon.c).
 *
 * @module
 */

import { HandoverError } from "../sys/errors.ts";
import { close, setCloseOnExec, waitForFd } from "../fd/fd.ts";
import { notify, type NotifyOptions } from "./notify.ts";
import { cBuffer, readInt32 } from "../sys/memory.ts";
import { check, system } from "../ffi/system.ts";

function openPipe(): [number, number] {
  const { libc, c, os } = system();
  const fds = cBuffer(8);
  if (os === "linux") {
    check(libc.pipe2(fds, c.O_CLOEXEC), "pipe2");
  } else {
    check(libc.pipe(fds), "pipe");
  }
  const ends: [number, number] = [readInt32(fds, 0), readInt32(fds, 4)];
  if (os !== "linux") {
    try {
      ends.forEach((fd) => setCloseOnExec(fd, true));
    } catch (error) {
      ends.forEach(close);
      throw error;
    }
  }
  return ends;
}

/** Options of {@link barrier}. */
export type BarrierOptions = Omit<NotifyOptions, "fds" | "timeoutMs">;

/**
 * Sends `BARRIER=1` with the write end of a fresh pipe and waits, without
 * blocking the event loop, until the service manager closes it: by then it
 * has handled every message sent before. Use it before exiting, so that a
 * last `STATUS=` or `MAINPID=` is not lost.
 *
 * @param timeoutMs How long to wait, in milliseconds (default 5000).
 * @param options As for `notify()`.
 * @returns True when the manager closed the pipe, false when `NOTIFY_SOCKET` is not set.
 * @throws {HandoverError} `ETIMEDOUT` when the manager did not close it in time; as `notify()` otherwise.
 * @throws {RangeError} For a timeout that is not a non-negative number.
 *
 * @example Make sure the last status arrived before exiting
 * ```ts
 * import { barrier, status } from "../../mod.ts";
 * await status("Exiting: configuration is invalid");
 * await barrier(5000); // true once systemd has read it; false when not started by a service manager
 * // … now exit(1) …
 * ```
 */
export async function barrier(timeoutMs = 5000, options: BarrierOptions = {}): Promise<boolean> {
  if (typeof timeoutMs !== "number" || Number.isNaN(timeoutMs) || timeoutMs < 0) {
    throw new RangeError(`Expected a timeout of 0 or more milliseconds, got ${timeoutMs}`);
  }
  const [readEnd, writeEnd] = openPipe();
  let writeOpen = true;
  try {
    const sent = await notify("BARRIER=1", { ...options, fds: [writeEnd] });
    close(writeEnd);
    writeOpen = false;
    if (!sent) return false;
    try {
      // POLLHUP comes when the last write end, the manager's copy, is closed.
      await waitForFd(readEnd, "hangup", { timeoutMs: timeoutMs === Infinity ? undefined : timeoutMs });
    } catch (error) {
      if (error instanceof HandoverError && error.code === "ETIMEDOUT") {
        throw new HandoverError(
          "ETIMEDOUT",
          `The service manager did not close the barrier fd within ${timeoutMs} ms`,
          { cause: error },
        );
      }
      throw error;
    }
    return true;
  } finally {
    if (writeOpen) close(writeEnd);
    close(readEnd);
  }
}
