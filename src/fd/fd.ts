/**
 * File descriptor basics: validation, close, close-on-exec and non-blocking
 * flags, and waiting for readiness without blocking the event loop.
 *
 * @module
 */

import { HandoverError } from "../sys/errors.ts";
import { encodePollfds, pollRevents } from "../sys/poll.ts";
import { check, failure, system } from "../ffi/system.ts";

/**
 * Throws unless `fd` is a plausible file descriptor number.
 *
 * @param fd The value to check.
 * @param what How to name it in the message.
 * @throws {TypeError} When `fd` is not an integer.
 * @throws {RangeError} When `fd` is negative or above 2^31-1.
 *
 * @example
 * ```ts
 * import { assertFd } from "./fd.ts";
 * assertFd(3);
 * ```
 */
export function assertFd(fd: unknown, what = "fd"): asserts fd is number {
  if (typeof fd !== "number" || !Number.isInteger(fd)) {
    throw new TypeError(
      `Expected ${what} to be an integer file descriptor, got ${typeof fd === "number" ? fd : typeof fd}`,
    );
  }
  if (fd < 0 || fd > 0x7fffffff) throw new RangeError(`Expected ${what} to be from 0 to 2147483647, got ${fd}`);
}

/**
 * Closes a file descriptor that handover gave you (a socketpair end, a
 * collected socket you will not serve, a received fd).
 *
 * @param fd The file descriptor.
 * @throws {HandoverError} `EBADF` when `fd` is not open.
 * @throws {TypeError} When `fd` is not an integer.
 *
 * @example Close both ends of a pair
 * ```ts
 * import { close, socketpair } from "../../mod.ts";
 * const [a, b] = socketpair();
 * close(a);
 * close(b);
 * ```
 */
export function close(fd: number): void {
  assertFd(fd);
  // On Linux the fd is released even when close() reports EINTR; never retry it.
  const error = failure(system().libc.close(fd), "close");
  if (error !== undefined && error.code !== "EINTR") throw error;
}

/**
 * Reads the `F_GETFD`/`F_GETFL` flags of an fd.
 *
 * @param fd The file descriptor.
 * @returns The close-on-exec and non-blocking state.
 * @throws {HandoverError} `EBADF` when `fd` is not open.
 *
 * @example
 * ```ts
 * import { fdFlags, socketpair, close } from "../../mod.ts";
 * const [a, b] = socketpair();
 * fdFlags(a); // { closeOnExec: true, nonBlocking: true }
 * close(a);
 * close(b);
 * ```
 */
export function fdFlags(fd: number): { closeOnExec: boolean; nonBlocking: boolean } {
  assertFd(fd);
  const { libc, c } = system();
  const fdFlags = check(libc.fcntl(fd, c.F_GETFD, 0), "fcntl", `F_GETFD on fd ${fd}`);
  const statusFlags = check(libc.fcntl(fd, c.F_GETFL, 0), "fcntl", `F_GETFL on fd ${fd}`);
  return { closeOnExec: (fdFlags & c.FD_CLOEXEC) !== 0, nonBlocking: (statusFlags & c.O_NONBLOCK) !== 0 };
}

/**
 * Sets or clears `FD_CLOEXEC`.
 *
 * @param fd The file descriptor.
 * @param on Whether exec(2) should close it.
 * @throws {HandoverError} `EBADF` when `fd` is not open.
 *
 * @example Let a child started by exec(2) inherit a pair end
 * ```ts
 * import { close, fdFlags, setCloseOnExec, socketpair } from "../../mod.ts";
 * const [a, b] = socketpair();
 * setCloseOnExec(a, false);
 * fdFlags(a).closeOnExec; // false
 * close(a);
 * close(b);
 * ```
 */
export function setCloseOnExec(fd: number, on = true): void {
  assertFd(fd);
  const { libc, c } = system();
  const flags = check(libc.fcntl(fd, c.F_GETFD, 0), "fcntl", `F_GETFD on fd ${fd}`);
  const wanted = on ? flags | c.FD_CLOEXEC : flags & ~c.FD_CLOEXEC;
  if (wanted !== flags) check(libc.fcntl(fd, c.F_SETFD, wanted), "fcntl", `F_SETFD on fd ${fd}`);
}

/**
 * Sets or clears `O_NONBLOCK`.
 *
 * @param fd The file descriptor.
 * @param on Whether calls on it should fail with EAGAIN instead of waiting.
 * @throws {HandoverError} `EBADF` when `fd` is not open.
 *
 * @example Make a blocking pair end non-blocking
 * ```ts
 * import { close, fdFlags, setNonBlocking, socketpair } from "../../mod.ts";
 * const [a, b] = socketpair("stream", { nonBlocking: false });
 * setNonBlocking(a, true);
 * fdFlags(a).nonBlocking; // true
 * close(a);
 * close(b);
 * ```
 */
export function setNonBlocking(fd: number, on = true): void {
  assertFd(fd);
  const { libc, c } = system();
  const flags = check(libc.fcntl(fd, c.F_GETFL, 0), "fcntl", `F_GETFL on fd ${fd}`);
  const wanted = on ? flags | c.O_NONBLOCK : flags & ~c.O_NONBLOCK;
  if (wanted !== flags) check(libc.fcntl(fd, c.F_SETFL, wanted), "fcntl", `F_SETFL on fd ${fd}`);
}

/** What to wait for on an fd. */
export type Readiness = "readable" | "writable" | "hangup";

/**
 * Polls one fd once, without waiting.
 *
 * @param fd The file descriptor.
 * @param what What to look for.
 * @returns Whether it is ready (errors and hang-ups count as ready, so the next call reports them).
 * @throws {HandoverError} `EBADF` when the fd is not open.
 *
 * @example Poll a fresh pair end
 * ```ts
 * import { close, socketpair } from "../../mod.ts";
 * import { isReady } from "./fd.ts";
 * const [a, b] = socketpair();
 * isReady(a, "writable"); // true: its send buffer is empty
 * isReady(a, "readable"); // false: nothing was sent to it
 * close(a);
 * close(b);
 * ```
 */
export function isReady(fd: number, what: Readiness): boolean {
  const { libc, c, layout } = system();
  const events = what === "readable" ? c.POLLIN : what === "writable" ? c.POLLOUT : 0;
  const pollfds = encodePollfds(layout, [{ fd, events }]);
  const n = libc.poll(pollfds, 1, 0);
  if (n < 0) {
    const error = failure(n, "poll")!;
    if (error.code === "EINTR") return false;
    throw error;
  }
  if (n === 0) return false;
  const revents = pollRevents(layout, pollfds, 0);
  if ((revents & c.POLLNVAL) !== 0) {
    throw new HandoverError("EBADF", `poll() found fd ${fd} is not open`, { syscall: "poll" });
  }
  return (revents & (events | c.POLLERR | c.POLLHUP)) !== 0;
}

/** Options of {@link waitForFd}. */
export interface WaitOptions {
  /** Give up after this many milliseconds with `ETIMEDOUT` (default: wait forever). */
  readonly timeoutMs?: number;
  /** Give up when this signal aborts. */
  readonly signal?: AbortSignal;
}

/**
 * Waits until an fd is readable, writable or hung up, without blocking the
 * event loop: it polls with a zero timeout and backs off from 1 to 20 ms
 * between tries. Meant for rare waits (a full notify queue, a barrier), not
 * for streaming data.
 *
 * @param fd The file descriptor.
 * @param what What to wait for.
 * @param options A timeout and an abort signal.
 * @returns When the fd is ready.
 * @throws {HandoverError} `ETIMEDOUT` when the timeout passes; `EBADF` when the fd is closed.
 *
 * @example Wait for a pair end, with a timeout
 * ```ts
 * import { close, HandoverError, socketpair, waitForFd } from "../../mod.ts";
 * const [a, b] = socketpair();
 * await waitForFd(a, "writable", { timeoutMs: 5000 }); // resolves at once
 * try {
 *   await waitForFd(a, "readable", { timeoutMs: 50 }); // nothing comes
 * } catch (error) {
 *   if (!(error instanceof HandoverError) || error.code !== "ETIMEDOUT") throw error;
 * }
 * close(a);
 * close(b);
 * ```
 */
export async function waitForFd(fd: number, what: Readiness, options: WaitOptions = {}): Promise<void> {
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
  let delay = 1;
  while (!isReady(fd, what)) {
    options.signal?.throwIfAborted();
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new HandoverError("ETIMEDOUT", `fd ${fd} did not become ${what} within ${options.timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(delay, left)));
    delay = Math.min(delay * 2, 20);
  }
}
