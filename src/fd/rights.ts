/**
 * Passing file descriptors over AF_UNIX sockets (SCM_RIGHTS, unix(7)).
 *
 * @module
 */

import { assertFd, close, setCloseOnExec, waitForFd, type WaitOptions } from "./fd.ts";
import { cBuffer } from "../sys/memory.ts";
import { controlSpace, decodeControl, decodeMessageResult, encodeControl, encodeMessage } from "../sys/msghdr.ts";
import { failure, system } from "../ffi/system.ts";

/** The most fds one message may carry (Linux's `SCM_MAX_FD`). */
export const MAX_FDS_PER_MESSAGE = 253;

/** A message received with {@link receiveFds}. */
export interface ReceivedMessage {
  /** The bytes that came with the fds. */
  readonly data: Uint8Array;
  /** The fds received, close-on-exec, in the order they were sent. Close them when done. */
  readonly fds: number[];
  /**
   * True when the sender passed more fds than `maxFds` (the rest were closed, never returned) or more
   * bytes than `maxBytes`.
   */
  readonly truncated: boolean;
}

/** Options of {@link receiveFds}. */
export interface ReceiveOptions extends WaitOptions {
  /** Room for this many fds (default {@link MAX_FDS_PER_MESSAGE}). */
  readonly maxFds?: number;
  /** Room for this many data bytes (default 4096). */
  readonly maxBytes?: number;
}

function toBytes(data: Uint8Array | string): Uint8Array {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const copy = cBuffer(bytes.byteLength);
  copy.set(bytes);
  return copy;
}

function validateFds(fds: readonly number[]): void {
  if (!Array.isArray(fds)) throw new TypeError("Expected fds to be an array of file descriptors");
  if (fds.length > MAX_FDS_PER_MESSAGE) {
    throw new RangeError(`Expected at most ${MAX_FDS_PER_MESSAGE} fds in one message, got ${fds.length}`);
  }
  fds.forEach((fd, i) => assertFd(fd, `fds[${i}]`));
}

function trySend(socket: number, fds: readonly number[], payload: Uint8Array) {
  const { libc, c, layout, backend } = system();
  const control = encodeControl(layout, c, { fds });
  const message = encodeMessage(layout, backend.address, { iov: [payload], control });
  for (;;) {
    const sent = libc.sendmsg(socket, message.msghdr, c.MSG_NOSIGNAL | c.MSG_DONTWAIT);
    const error = failure(sent, "sendmsg");
    if (error?.code === "EINTR") continue;
    return { sent, error, keep: message };
  }
}

/**
 * Sends `fds` with `data` over a connected AF_UNIX socket, without waiting.
 *
 * @param socket The sending end (a {@link socketpair} end, or any connected AF_UNIX socket).
 * @param fds The fds to pass (at most 253); they stay open here too.
 * @param data Bytes to send with them (default one NUL byte, since stream sockets need at least one).
 * @returns The number of data bytes sent.
 * @throws {HandoverError} `EAGAIN` when the socket's buffer is full, `EPIPE` when the peer is gone,
 * `EBADF` when a passed fd is not open.
 * @throws {RangeError} With more than 253 fds.
 *
 * @example Pass a listening socket to the other side of a pair
 * ```ts
 * import { close, createListener, receiveFdsSync, sendFdsSync, socketpair } from "../../mod.ts";
 * const [here, there] = socketpair();
 * const listener = createListener({ port: 0 });
 * sendFdsSync(here, [listener], "web"); // 3 (bytes of data)
 * const { fds } = receiveFdsSync(there); // fds[0] is a new fd for the same socket
 * for (const fd of [listener, ...fds, here, there]) close(fd);
 * ```
 */
export function sendFdsSync(socket: number, fds: readonly number[], data: Uint8Array | string = "\0"): number {
  assertFd(socket, "socket");
  validateFds(fds);
  const { sent, error } = trySend(socket, fds, toBytes(data));
  if (error !== undefined) throw error;
  return sent;
}

/**
 * Sends `fds` with `data`, waiting (without blocking the event loop) while
 * the socket's buffer is full.
 *
 * @param socket The sending end.
 * @param fds The fds to pass (at most 253).
 * @param data Bytes to send with them (default one NUL byte).
 * @param options A timeout and an abort signal for the wait.
 * @returns The number of data bytes sent.
 * @throws {HandoverError} `EPIPE` when the peer is gone, `ETIMEDOUT` when the wait times out.
 *
 * @example Hand a listening socket to a worker
 * ```ts
 * import { close, createListener, receiveFds, sendFds, socketpair } from "../../mod.ts";
 * const [parent, worker] = socketpair();
 * const listener = createListener({ port: 0 });
 * await sendFds(parent, [listener], "web", { timeoutMs: 5000 });
 * close(listener); // the worker's end now holds the socket
 * const { fds } = await receiveFds(worker, { timeoutMs: 5000 });
 * for (const fd of [...fds, parent, worker]) close(fd);
 * ```
 */
export async function sendFds(
  socket: number,
  fds: readonly number[],
  data: Uint8Array | string = "\0",
  options: WaitOptions = {},
): Promise<number> {
  assertFd(socket, "socket");
  validateFds(fds);
  const payload = toBytes(data);
  for (;;) {
    const { sent, error } = trySend(socket, fds, payload);
    if (error === undefined) return sent;
    if (error.code !== "EAGAIN") throw error;
    await waitForFd(socket, "writable", options);
  }
}

function tryReceive(socket: number, maxFds: number, maxBytes: number) {
  const { libc, c, layout, backend, os } = system();
  const data = cBuffer(Math.max(1, maxBytes));
  const control = cBuffer(controlSpace(layout.cmsghdr, Math.max(1, maxFds) * 4));
  const message = encodeMessage(layout, backend.address, { iov: [data], control });
  for (;;) {
    const received = libc.recvmsg(socket, message.msghdr, c.MSG_CMSG_CLOEXEC | c.MSG_DONTWAIT);
    const error = failure(received, "recvmsg");
    if (error?.code === "EINTR") continue;
    if (error !== undefined) return { error };
    const result = decodeMessageResult(layout, message.msghdr);
    const { fds } = decodeControl(layout, c, control, result.controlLength);
    // Darwin has no MSG_CMSG_CLOEXEC: set the flag right away.
    if (os === "darwin") fds.forEach((fd) => setCloseOnExec(fd, true));
    let truncated = (result.flags & (c.MSG_CTRUNC | c.MSG_TRUNC)) !== 0;
    // CMSG_SPACE() rounds the control buffer up (to 8 bytes on Linux), so the kernel can fit more fds
    // than asked for: close those, as if they had not fit.
    if (fds.length > maxFds) {
      for (const fd of fds.splice(maxFds)) close(fd);
      truncated = true;
    }
    return { message: { data: data.slice(0, received), fds, truncated } satisfies ReceivedMessage };
  }
}

function receiveLimits(options: ReceiveOptions): { maxFds: number; maxBytes: number } {
  const maxFds = options.maxFds ?? MAX_FDS_PER_MESSAGE;
  const maxBytes = options.maxBytes ?? 4096;
  if (!Number.isInteger(maxFds) || maxFds < 0 || maxFds > MAX_FDS_PER_MESSAGE) {
    throw new RangeError(`Expected maxFds from 0 to ${MAX_FDS_PER_MESSAGE}, got ${maxFds}`);
  }
  if (!Number.isInteger(maxBytes) || maxBytes < 0 || maxBytes > 1 << 24) {
    throw new RangeError(`Expected maxBytes from 0 to 16777216, got ${maxBytes}`);
  }
  return { maxFds, maxBytes };
}

/**
 * Receives one message and the fds that came with it, without waiting.
 *
 * @param socket The receiving end.
 * @param options Room for fds and bytes.
 * @returns The message; `data` is empty at end of stream.
 * @throws {HandoverError} `EAGAIN` when nothing is queued, `EBADF` when the socket is not open.
 *
 * @example Read what is queued, or learn that nothing is
 * ```ts
 * import { close, HandoverError, receiveFdsSync, sendFdsSync, socketpair } from "../../mod.ts";
 * const [a, b] = socketpair("seqpacket");
 * sendFdsSync(a, [], "hello");
 * const { data, fds } = receiveFdsSync(b);
 * new TextDecoder().decode(data); // "hello"
 * fds; // []
 * try {
 *   receiveFdsSync(b); // nothing is queued now
 * } catch (error) {
 *   if (!(error instanceof HandoverError) || error.code !== "EAGAIN") throw error;
 * }
 * close(a);
 * close(b);
 * ```
 */
export function receiveFdsSync(socket: number, options: ReceiveOptions = {}): ReceivedMessage {
  assertFd(socket, "socket");
  const { maxFds, maxBytes } = receiveLimits(options);
  const { message, error } = tryReceive(socket, maxFds, maxBytes);
  if (error !== undefined) throw error;
  return message;
}

/**
 * Receives one message and its fds, waiting (without blocking the event
 * loop) until one arrives.
 *
 * @param socket The receiving end.
 * @param options Room for fds and bytes, a timeout and an abort signal.
 * @returns The message; `data` is empty at end of stream.
 * @throws {HandoverError} `ETIMEDOUT` when the wait times out, `EBADF` when the socket is not open.
 *
 * @example Receive what the other end sends
 * ```ts
 * import { close, describeFd, receiveFds, sendFdsSync, socketpair } from "../../mod.ts";
 * const [parent, child] = socketpair();
 * const pending = receiveFds(child, { timeoutMs: 5000 }); // in a child: receiveFds(3, …)
 * const [x, y] = socketpair("dgram");
 * sendFdsSync(parent, [x], "x");
 * const { data, fds } = await pending;
 * new TextDecoder().decode(data); // "x"
 * describeFd(fds[0]!).type; // "dgram"
 * for (const fd of [...fds, x, y, parent, child]) close(fd);
 * ```
 */
export async function receiveFds(socket: number, options: ReceiveOptions = {}): Promise<ReceivedMessage> {
  assertFd(socket, "socket");
  const { maxFds, maxBytes } = receiveLimits(options);
  for (;;) {
    const { message, error } = tryReceive(socket, maxFds, maxBytes);
    if (error === undefined) return message;
    if (error.code !== "EAGAIN") throw error;
    await waitForFd(socket, "readable", options);
  }
}
