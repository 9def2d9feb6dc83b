/**
 * Waking the launcher when one of its sockets becomes readable, without
 * accepting and without polling in a tight loop. None of the three runtimes
 * can watch an arbitrary fd, but all three deliver signals to JavaScript, so
 * the kernel is asked to signal us: signal-driven I/O (`O_ASYNC` with
 * `F_SETOWN`, and on Linux `F_SETSIG` to pick `SIGURG`, whose default action
 * is to be ignored; Darwin always sends `SIGIO`, ignored by default there
 * too). See fcntl(2), "Managing signals". A slow timer polls as well, so a
 * lost or coalesced signal delays a wakeup by at most `fallbackMs`.
 *
 * @module
 */

import { HandoverError } from "../sys/errors.ts";
import { encodePollfds, pollRevents } from "../sys/poll.ts";
import { check, failure, system } from "../ffi/system.ts";

/** Which signal the kernel sends for readiness on this platform. */
function wakeSignal(): "SIGURG" | "SIGIO" {
  return system().c.F_SETSIG !== 0 ? "SIGURG" : "SIGIO";
}

/**
 * Turns signal-driven I/O on or off for an fd. Note that `O_ASYNC` belongs to
 * the open file description, which a child shares: turn it off before the
 * app runs on a socket, or every connection it gets would signal us.
 *
 * @param fd The fd.
 * @param on Whether readiness should signal this process.
 * @throws {HandoverError} When fcntl fails.
 *
 * @example Readiness of one end of a pair signals us, then no more
 * ```ts
 * import { close, socketpair } from "../../mod.ts";
 * import { setSignalDriven } from "./wakeup.ts";
 * const [a, b] = socketpair();
 * setSignalDriven(a, true); // data arriving at a sends SIGURG (ignored unless listened for)
 * setSignalDriven(a, false);
 * close(a);
 * close(b);
 * ```
 */
export function setSignalDriven(fd: number, on: boolean): void {
  const { libc, c } = system();
  if (on) {
    check(libc.fcntl(fd, c.F_SETOWN, system().backend.pid), "fcntl", `F_SETOWN on fd ${fd}`);
    if (c.F_SETSIG !== 0) check(libc.fcntl(fd, c.F_SETSIG, c.SIGURG), "fcntl", `F_SETSIG on fd ${fd}`);
  }
  const flags = check(libc.fcntl(fd, c.F_GETFL, 0), "fcntl", `F_GETFL on fd ${fd}`);
  const wanted = on ? flags | c.O_ASYNC : flags & ~c.O_ASYNC;
  if (wanted !== flags) check(libc.fcntl(fd, c.F_SETFL, wanted), "fcntl", `F_SETFL on fd ${fd}`);
}

/**
 * Which of `fds` are readable (or in error) right now, by one poll(2) with a
 * zero timeout.
 *
 * @param fds The fds.
 * @returns The readable ones.
 * @throws {HandoverError} `EBADF` when one is not open.
 *
 * @example Only the end with something queued is readable
 * ```ts
 * import { close, sendFdsSync, socketpair } from "../../mod.ts";
 * import { readableNow } from "./wakeup.ts";
 * const [a, b] = socketpair();
 * sendFdsSync(a, [], "ping");
 * readableNow([a, b]); // [b]
 * close(a);
 * close(b);
 * ```
 */
export function readableNow(fds: readonly number[]): number[] {
  if (fds.length === 0) return [];
  const { libc, c, layout } = system();
  const pollfds = encodePollfds(layout, fds.map((fd) => ({ fd, events: c.POLLIN })));
  const n = libc.poll(pollfds, fds.length, 0);
  if (n < 0) {
    const error = failure(n, "poll")!;
    if (error.code === "EINTR") return [];
    throw error;
  }
  const ready: number[] = [];
  for (let i = 0; i < fds.length && n > 0; i++) {
    const revents = pollRevents(layout, pollfds, i);
    if ((revents & c.POLLNVAL) !== 0) {
      throw new HandoverError("EBADF", `poll() found fd ${fds[i]} is not open`, { syscall: "poll" });
    }
    if ((revents & (c.POLLIN | c.POLLERR | c.POLLHUP)) !== 0) ready.push(fds[i]!);
  }
  return ready;
}

/** Calls back when the kernel signals readiness, and on a slow timer. */
export class Wakeup {
  private readonly signal: "SIGURG" | "SIGIO";
  private readonly listener: () => void;
  private readonly timer: ReturnType<typeof setInterval>;

  /**
   * Installs the signal listener and the fallback timer. The timer keeps the
   * event loop alive while the launcher waits; {@link Wakeup.stop} ends it.
   *
   * @param onWake Called for every signal and every timer tick.
   * @param fallbackMs The timer's period.
   */
  constructor(onWake: () => void, fallbackMs = 1000) {
    this.signal = wakeSignal();
    this.listener = onWake;
    process.on(this.signal, this.listener);
    this.timer = setInterval(onWake, fallbackMs);
  }

  /**
   * Removes the listener and the timer.
   *
   * @example
   * ```ts
   * import "../../mod.ts";
   * import { Wakeup } from "./wakeup.ts";
   * const wakeup = new Wakeup(() => {}, 1000);
   * wakeup.stop(); // the event loop may end now
   * ```
   */
  stop(): void {
    clearInterval(this.timer);
    process.off(this.signal, this.listener);
  }
}
