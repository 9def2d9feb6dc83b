/**
 * socketpair(2): connected AF_UNIX pairs for talking to child processes.
 *
 * @module
 */

import { close, setCloseOnExec, setNonBlocking } from "./fd.ts";
import { cBuffer, readInt32 } from "../sys/memory.ts";
import { check, system } from "../ffi/system.ts";

/** The socket types a pair can have. */
export type SocketType = "stream" | "dgram" | "seqpacket";

/** Options of {@link socketpair}. */
export interface SocketpairOptions {
  /** Set `FD_CLOEXEC` on both ends (default `true`; hand an end to a child through its stdio). */
  readonly closeOnExec?: boolean;
  /** Set `O_NONBLOCK` on both ends (default `true`, what event loops expect). */
  readonly nonBlocking?: boolean;
}

const TYPES: readonly SocketType[] = ["stream", "dgram", "seqpacket"];

let pairBuffer: Uint8Array | undefined;

/**
 * Creates a connected pair of AF_UNIX sockets, close-on-exec and
 * non-blocking by default (on macOS the flags are set with fcntl).
 *
 * @param type `stream` (default), `dgram` or `seqpacket`.
 * @param options Close-on-exec and non-blocking flags.
 * @returns The two file descriptors; close both with {@link close} (or hand them on).
 * @throws {TypeError} When `type` is not one of the three.
 * @throws {HandoverError} When socketpair(2) fails, e.g. `EMFILE` at the fd limit.
 *
 * @example Talk to a child process over a pair
 * ```ts
 * import { spawn } from "node:child_process";
 * import { once } from "node:events";
 * import { childStdio, close, receiveFds, socketpair } from "../../mod.ts";
 *
 * const [mine, theirs] = socketpair();
 * // The child finds its end at fd 3.
 * const child = spawn("sh", ["-c", "echo ready >&3"], { stdio: childStdio({ 3: theirs }) });
 * const exited = once(child, "exit"); // listen now: the child may end before we read
 * close(theirs);
 * const { data } = await receiveFds(mine, { timeoutMs: 5000 });
 * new TextDecoder().decode(data); // "ready\n"
 * await exited;
 * close(mine);
 * ```
 */
export function socketpair(type: SocketType = "stream", options: SocketpairOptions = {}): [number, number] {
  if (!TYPES.includes(type)) {
    throw new TypeError(`Expected the socket type to be "stream", "dgram" or "seqpacket", got ${JSON.stringify(type)}`);
  }
  const { libc, c } = system();
  const closeOnExec = options.closeOnExec ?? true;
  const nonBlocking = options.nonBlocking ?? true;
  const base = type === "stream" ? c.SOCK_STREAM : type === "dgram" ? c.SOCK_DGRAM : c.SOCK_SEQPACKET;
  // Linux sets both flags atomically; Darwin has no SOCK_CLOEXEC, so fcntl follows.
  const flags = (closeOnExec ? c.SOCK_CLOEXEC : 0) | (nonBlocking ? c.SOCK_NONBLOCK : 0);
  // One buffer for every call (socketpair() is synchronous): a new one each time was a fifth of the call's cost.
  const fds = pairBuffer ??= cBuffer(8);
  const result = libc.socketpair(c.AF_UNIX, base | flags, 0, fds);
  if (result < 0) check(result, "socketpair", `AF_UNIX ${type}`);
  const pair: [number, number] = [readInt32(fds, 0), readInt32(fds, 4)];
  if (c.SOCK_CLOEXEC === 0) {
    try {
      for (const fd of pair) {
        if (closeOnExec) setCloseOnExec(fd, true);
        if (nonBlocking) setNonBlocking(fd, true);
      }
    } catch (error) {
      for (const fd of pair) close(fd);
      throw error;
    }
  }
  return pair;
}
