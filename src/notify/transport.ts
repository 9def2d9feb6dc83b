/**
 * The connection to the service manager's `NOTIFY_SOCKET`, as libsystemd's
 * `pid_notify_with_fds_internal()` (src/libsystemd/sd-daemon/sd-daemon.c)
 * makes it: one datagram per message, fds as `SCM_RIGHTS` followed by
 * `SCM_CREDENTIALS` when speaking for another process, `MSG_NOSIGNAL`, a
 * send buffer raised to 8 MiB, and a resend without credentials when the
 * kernel refuses them. Unlike libsystemd, which opens a socket per message,
 * one connected socket per process is kept and reused (a quarter of the
 * cost); it is made again when `NOTIFY_SOCKET` changes or the receiver goes
 * away. Sending is a generator that yields when it must wait for room, so
 * that the blocking and the non-blocking callers share it.
 *
 * @module
 */

import { HandoverError } from "../sys/errors.ts";
import { assertFd, close } from "../fd/fd.ts";
import { encodeNotifyMessage, formatNotifyState, type NotifyState } from "./message.ts";
import { MAX_FDS_PER_MESSAGE } from "../fd/rights.ts";
import { connectSocket, getIntOption, openSocket, setIntOption } from "../fd/socket.ts";
import { cBuffer } from "../sys/memory.ts";
import { encodeControl, encodeMessage } from "../sys/msghdr.ts";
import { type EncodedAddress } from "../sys/sockaddr.ts";
import { encodePollfds } from "../sys/poll.ts";
import { environmentVariable, failure, system } from "../ffi/system.ts";

/** Options of {@link notify} and {@link notifySync}. */
export interface NotifyOptions {
  /**
   * Remove `NOTIFY_SOCKET` from the environment afterwards (whether or not
   * the message was sent), so that children do not inherit it, and close
   * the socket.
   */
  readonly unsetEnv?: boolean;
  /** File descriptors to pass with the message (`SCM_RIGHTS`, at most 253); they stay open here. */
  readonly fds?: readonly number[];
  /**
   * Send on behalf of this process (`SCM_CREDENTIALS`), like
   * `sd_pid_notify()`. Needs privileges; when the kernel refuses the
   * credentials, the message is sent again with the sender's own, as
   * libsystemd does.
   */
  readonly pid?: number;
  /**
   * How long {@link notify} may wait while the receiver's queue is full, in
   * milliseconds (default: as long as it takes, like libsystemd). The
   * message is not sent when the wait ends: the promise rejects with `ETIMEDOUT`.
   */
  readonly timeoutMs?: number;
  /** Stops {@link notify} waiting for room in the receiver's queue. */
  readonly signal?: AbortSignal;
}

/** A notification: raw `KEY=VALUE` lines, sent byte for byte, or a typed object. */
export type NotifyMessage = string | NotifyState;

// libsystemd's SNDBUF_SIZE.
const SEND_BUFFER_SIZE = 8 * 1024 * 1024;
export const ENVIRONMENT_VARIABLE = "NOTIFY_SOCKET";
// Errors that mean the receiver we were connected to is gone (systemd
// re-executed, a launcher restarted): connect again once and resend.
const PEER_GONE: ReadonlySet<string> = new Set(["ECONNREFUSED", "ENOTCONN", "EPIPE", "ECONNRESET", "EDESTADDRREQ"]);
// ERRNO_IS_NOT_SUPPORTED() of src/basic/errno-util.h, plus ENODEV (QEMU's vsock).
export const NOT_SUPPORTED: ReadonlySet<string> = new Set([
  "EOPNOTSUPP",
  "ENOTSUP",
  "ENOTTY",
  "ENOSYS",
  "EAFNOSUPPORT",
  "EPFNOSUPPORT",
  "EPROTONOSUPPORT",
  "ESOCKTNOSUPPORT",
  "ENOPROTOOPT",
  "ENODEV",
]);

/** A validated message, ready to send. */
export interface Prepared {
  readonly bytes: Uint8Array;
  readonly fds: readonly number[];
  /** The credentials to send, when libsystemd would send them. */
  readonly credentials: { pid: number; uid: number; gid: number } | undefined;
}

/** What a sending step waits for before it can go on. */
export interface Wait {
  readonly fd: number;
  readonly what: "readable" | "writable";
}

export type Sending = Generator<Wait, void, void>;

/** The socket kept for a `NOTIFY_SOCKET` value. */
interface Connection {
  readonly value: string;
  readonly fd: number;
}

let connection: Connection | undefined;
let ownPid = 0;

// Encoded messages by text: the same few messages (WATCHDOG=1, READY=1) are
// sent again and again, and each is validated and copied off the heap once.
const encodedMessages = new Map<string, Uint8Array>();
const ENCODED_CACHE_SIZE = 64;

function encodeCached(text: string, fdCount: number): Uint8Array {
  if (fdCount > MAX_FDS_PER_MESSAGE) {
    throw new RangeError(`Expected at most ${MAX_FDS_PER_MESSAGE} fds in one notify message, got ${fdCount}`);
  }
  let bytes = encodedMessages.get(text);
  if (bytes === undefined) {
    const encoded = encodeNotifyMessage(text, fdCount);
    // Off V8's moving heap, since sendmsg() reads it through an iovec.
    bytes = cBuffer(encoded.byteLength);
    bytes.set(encoded);
    if (encodedMessages.size >= ENCODED_CACHE_SIZE) encodedMessages.clear();
    encodedMessages.set(text, bytes);
  }
  return bytes;
}

// The real ids and whether they differ from the effective ones, read when
// the socket is opened (libsystemd reads them per message; a process that
// changes its ids later gets them read again with the next socket).
let ids: { uid: number; gid: number; setId: boolean } | undefined;

function processIds(): typeof ids {
  const { libc, c } = system();
  if (c.SCM_CREDENTIALS === 0) return undefined;
  if (ids === undefined) {
    const uid = libc.getuid();
    const gid = libc.getgid();
    ids = { uid, gid, setId: uid !== libc.geteuid() || gid !== libc.getegid() };
  }
  return ids;
}

function processId(): number {
  if (ownPid === 0) ownPid = system().backend.pid;
  return ownPid;
}

export function prepare(message: NotifyMessage, options: NotifyOptions): Prepared {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`Expected notify options to be an object, got ${options === null ? "null" : typeof options}`);
  }
  const fds = options.fds ?? [];
  if (!Array.isArray(fds)) throw new TypeError("Expected fds to be an array of file descriptors");
  for (let i = 0; i < fds.length; i++) assertFd(fds[i], `fds[${i}]`);
  const text = typeof message === "string" ? message : formatNotifyState(message);
  const bytes = encodeCached(text, fds.length);
  let credentials: Prepared["credentials"];
  if (options.pid !== undefined) {
    const pid = options.pid;
    if (!Number.isInteger(pid) || pid < 1 || pid > 0x7fffffff) {
      throw new RangeError(`Expected pid to be a process id from 1 to 2147483647, got ${pid}`);
    }
  }
  // Like libsystemd: credentials go along only when they say something the
  // kernel would not say by itself (another pid, or set-id ids).
  const pid = options.pid ?? 0;
  const ids = processIds();
  if (ids !== undefined && ((pid !== 0 && pid !== processId()) || ids.setId)) {
    credentials = { pid: pid !== 0 ? pid : processId(), uid: ids.uid, gid: ids.gid };
  }
  return { bytes, fds, credentials };
}

export function closeConnection(): void {
  const current = connection;
  connection = undefined;
  ids = undefined;
  if (current !== undefined) close(current.fd);
}

/**
 * Closes the socket kept for notifications, if any; the next message opens
 * a new one. For tests and for code that must close every fd (before
 * exec(2), say).
 *
 * @example Close every fd before exec(2)
 * ```ts
 * import { notify } from "../../mod.ts";
 * import { closeNotifySocket, notifySocketFd } from "./transport.ts";
 * await notify("STATUS=Restarting"); // keeps a socket open when NOTIFY_SOCKET is set
 * closeNotifySocket();
 * notifySocketFd(); // undefined: the next message opens a new one
 * ```
 */
export function closeNotifySocket(): void {
  closeConnection();
}

/**
 * The fd of the socket kept for notifications, or undefined when none is open.
 *
 * @returns The fd.
 *
 * @example The socket stays open between messages
 * ```ts
 * import { close, createListener, notify } from "../../mod.ts";
 * import { notifySocketFd } from "./transport.ts";
 * const dir = Deno.makeTempDirSync(); // a stand-in for systemd's notify socket
 * const manager = createListener({ path: `${dir}/notify`, type: "dgram" });
 * Deno.env.set("NOTIFY_SOCKET", `${dir}/notify`);
 * await notify("READY=1");
 * notifySocketFd(); // its fd, reused by the next message
 * await notify("STOPPING=1", { unsetEnv: true });
 * notifySocketFd(); // undefined: unsetEnv closed it
 * close(manager);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function notifySocketFd(): number | undefined {
  return connection?.fd;
}

// fd_inc_sndbuf() of src/basic/socket-util.c: the kernel doubles what it is
// given; when SO_SNDBUF is capped by net.core.wmem_max, a privileged process
// can pass the cap with SO_SNDBUFFORCE. Best effort, as in libsystemd.
function raiseSendBuffer(fd: number): void {
  const { c } = system();
  try {
    if (getIntOption(fd, c.SOL_SOCKET, c.SO_SNDBUF) >= SEND_BUFFER_SIZE * 2) return;
    setIntOption(fd, c.SOL_SOCKET, c.SO_SNDBUF, SEND_BUFFER_SIZE);
    if (getIntOption(fd, c.SOL_SOCKET, c.SO_SNDBUF) >= SEND_BUFFER_SIZE * 2) return;
    if (c.SO_SNDBUFFORCE !== 0) setIntOption(fd, c.SOL_SOCKET, c.SO_SNDBUFFORCE, SEND_BUFFER_SIZE);
  } catch {
    // An unprivileged process keeps the kernel's limit.
  }
}

export function withContext(error: HandoverError, value: string): HandoverError {
  error.message = `${error.message} (NOTIFY_SOCKET=${value})`;
  return error;
}

function unixConnection(value: string, path: string): number {
  if (connection !== undefined) {
    if (connection.value === value) return connection.fd;
    closeConnection();
  }
  const { c } = system();
  const fd = openSocket("unix", "dgram");
  try {
    if (c.SO_NOSIGPIPE !== 0) setIntOption(fd, c.SOL_SOCKET, c.SO_NOSIGPIPE, 1);
    raiseSendBuffer(fd);
    // Connected, so that poll(2) can tell when the receiver's queue has room.
    connectSocket(fd, { family: "unix", path });
  } catch (error) {
    close(fd);
    throw error instanceof HandoverError ? withContext(error, value) : error;
  }
  connection = { value, fd };
  return fd;
}

/** One sendmsg(2) (or sendto(2) when there is nothing but bytes), without waiting. */
export function sendOnce(
  fd: number,
  message: Prepared,
  withCredentials: boolean,
  name: EncodedAddress | undefined,
): { sent: number; error: HandoverError | undefined } {
  const { libc, c, layout, backend } = system();
  const flags = c.MSG_NOSIGNAL | c.MSG_DONTWAIT;
  const { bytes } = message;
  if (message.fds.length === 0 && !withCredentials && name === undefined) {
    const sent = libc.sendto(fd, bytes, bytes.byteLength, flags, null, 0);
    return { sent, error: sent < 0 ? failure(sent, "sendto") : undefined };
  }
  const control = encodeControl(layout, c, {
    fds: message.fds,
    credentials: withCredentials ? message.credentials : undefined,
  });
  const encoded = encodeMessage(layout, backend.address, { iov: [bytes], control, name });
  const sent = libc.sendmsg(fd, encoded.msghdr, flags);
  const error = sent < 0 ? failure(sent, "sendmsg") : undefined;
  // The msghdr points into these; keep them alive until the call returned.
  void encoded.parts;
  return { sent, error };
}

export function* sendUnix(value: string, path: string, message: Prepared): Sending {
  let withCredentials = message.credentials !== undefined;
  let reconnected = false;
  for (;;) {
    const fd = unixConnection(value, path);
    const { sent, error } = sendOnce(fd, message, withCredentials, undefined);
    if (error === undefined) {
      if (sent < message.bytes.byteLength) {
        throw new HandoverError("EIO", `sendmsg() sent ${sent} of ${message.bytes.byteLength} bytes (${value})`);
      }
      return;
    }
    if (error.code === "EINTR") continue;
    if (error.code === "EAGAIN" || error.code === "EWOULDBLOCK") {
      yield { fd, what: "writable" };
      continue;
    }
    if (PEER_GONE.has(error.code) && !reconnected) {
      reconnected = true;
      closeConnection();
      continue;
    }
    if (withCredentials) {
      // The kernel refused the credentials (EPERM, ESRCH): send as ourselves.
      withCredentials = false;
      continue;
    }
    if (PEER_GONE.has(error.code)) closeConnection();
    throw withContext(error, value);
  }
}

/**
 * The common case in one call: plain bytes over the socket already kept for
 * the current `NOTIFY_SOCKET`. Anything else (no socket yet, fds,
 * credentials, a full queue, an error) takes the full road, which sends
 * again from the start: a failed send(2) sent nothing.
 */
export function sendFast(message: Prepared): boolean {
  const kept = connection;
  if (kept === undefined || message.fds.length > 0 || message.credentials !== undefined) return false;
  const { libc, c } = system();
  if (environmentVariable(ENVIRONMENT_VARIABLE) !== kept.value) return false;
  const { bytes } = message;
  return libc.sendto(kept.fd, bytes, bytes.byteLength, c.MSG_NOSIGNAL | c.MSG_DONTWAIT, null, 0) === bytes.byteLength;
}

export function finish(options: NotifyOptions): void {
  if (options?.unsetEnv === true) {
    system().backend.env.delete(ENVIRONMENT_VARIABLE);
    closeConnection();
  }
}

export function waitBlocking(wait: Wait): void {
  const { libc, c, layout } = system();
  const pollfds = encodePollfds(layout, [{ fd: wait.fd, events: wait.what === "readable" ? c.POLLIN : c.POLLOUT }]);
  for (;;) {
    const n = libc.poll(pollfds, 1, -1);
    if (n >= 0) return;
    const error = failure(n, "poll")!;
    if (error.code !== "EINTR") throw error;
  }
}
