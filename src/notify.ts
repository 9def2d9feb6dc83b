/**
 * `sd_notify`: telling the service manager about start-up, reloads,
 * shutdown, status and liveness, and handing it fds to keep.
 *
 * The protocol follows libsystemd's `pid_notify_with_fds_internal()`
 * (src/libsystemd/sd-daemon/sd-daemon.c): one datagram per message to
 * `NOTIFY_SOCKET`, fds as `SCM_RIGHTS` followed by `SCM_CREDENTIALS` when
 * speaking for another process, `MSG_NOSIGNAL`, a send buffer raised to 8 MiB,
 * and a resend without credentials when the kernel refuses them. Unlike
 * libsystemd, which opens a socket per message, one connected socket per
 * process is kept and reused (a quarter of the cost); it is made again when
 * `NOTIFY_SOCKET` changes or the receiver goes away.
 *
 * @module
 */

import { errnoNumber } from "./errno.ts";
import { errnoError } from "./errno.ts";
import { HandoverError } from "./errors.ts";
import { assertFd, close, isReady } from "./fd.ts";
import { type NotifySocketAddress, parseNotifySocket } from "./notify_address.ts";
import { encodeNotifyMessage, formatNotifyState, type NotifyState } from "./notify_message.ts";
import { MAX_FDS_PER_MESSAGE } from "./rights.ts";
import { connectSocket, getIntOption, openSocket, setIntOption } from "./socket.ts";
import {
  cBuffer,
  encodeControl,
  type EncodedAddress,
  encodeMessage,
  encodePollfds,
  encodeSocketAddress,
  readUint64,
} from "./structs.ts";
import { check, failure, system } from "./system.ts";

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
const ENVIRONMENT_VARIABLE = "NOTIFY_SOCKET";
// Errors that mean the receiver we were connected to is gone (systemd
// re-executed, a launcher restarted): connect again once and resend.
const PEER_GONE: ReadonlySet<string> = new Set(["ECONNREFUSED", "ENOTCONN", "EPIPE", "ECONNRESET", "EDESTADDRREQ"]);
// ERRNO_IS_NOT_SUPPORTED() of src/basic/errno-util.h, plus ENODEV (QEMU's vsock).
const NOT_SUPPORTED: ReadonlySet<string> = new Set([
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
interface Prepared {
  readonly bytes: Uint8Array;
  readonly fds: readonly number[];
  /** The credentials to send, when libsystemd would send them. */
  readonly credentials: { pid: number; uid: number; gid: number } | undefined;
}

/** What a sending step waits for before it can go on. */
interface Wait {
  readonly fd: number;
  readonly what: "readable" | "writable";
}

type Sending = Generator<Wait, void, void>;

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

function prepare(message: NotifyMessage, options: NotifyOptions): Prepared {
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

function closeConnection(): void {
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
 * @example
 * ```ts ignore
 * closeNotifySocket();
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
 * @example
 * ```ts ignore
 * notifySocketFd(); // 7
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

function withContext(error: HandoverError, value: string): HandoverError {
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
function sendOnce(
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

function* sendUnix(value: string, path: string, message: Prepared): Sending {
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

const VSOCK_TYPES = ["dgram", "seqpacket", "stream"] as const;

function openVsock(value: string, address: Extract<NotifySocketAddress, { family: "vsock" }>) {
  const { c } = system();
  if (c.AF_VSOCK === 0) {
    throw new HandoverError("EAFNOSUPPORT", `AF_VSOCK exists only on Linux (NOTIFY_SOCKET=${value})`);
  }
  // Plain vsock: tries datagrams, then sequenced packets, then streams (QEMU has no vsock datagrams).
  const types = address.type === undefined ? VSOCK_TYPES : [address.type];
  for (let i = 0;; i++) {
    const type = types[i]!;
    try {
      return { fd: openSocket("vsock", type), type };
    } catch (error) {
      const last = i === types.length - 1;
      if (last || !(error instanceof HandoverError) || !NOT_SUPPORTED.has(error.code)) {
        throw error instanceof HandoverError ? withContext(error, value) : error;
      }
    }
  }
}

// vsock_bind_privileged_port() of sd-daemon.c: a port below 1024 tells the
// host that a privileged process sent this. Unprivileged processes skip it.
function bindPrivilegedVsockPort(fd: number, value: string): void {
  const { libc, c, layout } = system();
  for (let port = 1023; port > 0; port--) {
    const encoded = encodeSocketAddress(layout, c, { family: "vsock", cid: c.VMADDR_CID_ANY, port });
    const error = failure(libc.bind(fd, encoded.bytes, encoded.length), "bind");
    if (error === undefined || error.code === "EPERM" || error.code === "EACCES") return;
    if (error.code !== "EADDRINUSE") throw withContext(error, value);
  }
}

function* sendVsock(
  value: string,
  address: Extract<NotifySocketAddress, { family: "vsock" }>,
  message: Prepared,
): Sending {
  const { libc, c, layout } = system();
  const { fd, type } = openVsock(value, address);
  try {
    bindPrivilegedVsockPort(fd, value);
    const peer = encodeSocketAddress(layout, c, { family: "vsock", cid: address.cid, port: address.port });
    const connected = type !== "dgram";
    if (connected) {
      for (;;) {
        const error = failure(libc.connect(fd, peer.bytes, peer.length), "connect");
        if (error === undefined) break;
        if (error.code === "EINTR") continue;
        if (error.code !== "EINPROGRESS") throw withContext(error, value);
        yield { fd, what: "writable" };
        const pending = getIntOption(fd, c.SOL_SOCKET, c.SO_ERROR);
        if (pending !== 0) throw errnoError(system().os, "connect", pending, `NOTIFY_SOCKET=${value}`);
        break;
      }
    }
    let withCredentials = message.credentials !== undefined;
    let rest: Prepared = message;
    for (;;) {
      const { sent, error } = sendOnce(fd, rest, withCredentials, connected ? undefined : peer);
      if (error === undefined) {
        if (sent >= rest.bytes.byteLength) break;
        // Only a stream may take part of a message; send the rest without fds or credentials.
        if (type !== "stream") {
          throw new HandoverError("EIO", `sendmsg() sent ${sent} of ${rest.bytes.byteLength} bytes (${value})`);
        }
        rest = { bytes: rest.bytes.subarray(sent), fds: [], credentials: undefined };
        withCredentials = false;
        continue;
      }
      if (error.code === "EINTR") continue;
      if (error.code === "EAGAIN" || error.code === "EWOULDBLOCK") {
        yield { fd, what: "writable" };
        continue;
      }
      if (withCredentials) {
        withCredentials = false;
        continue;
      }
      throw withContext(error, value);
    }
    if (connected) {
      // The receiver reads to the end of the connection, then closes it: wait for that.
      check(libc.shutdown(fd, c.SHUT_WR), "shutdown", `NOTIFY_SOCKET=${value}`);
      const one = cBuffer(1);
      for (;;) {
        const n = libc.read(fd, one, 1);
        if (n === 0) break;
        if (n > 0) {
          throw new HandoverError("EPROTO", `The receiver at NOTIFY_SOCKET=${value} sent data instead of closing`);
        }
        const error = failure(n, "read")!;
        if (error.code === "EINTR") continue;
        if (error.code !== "EAGAIN" && error.code !== "EWOULDBLOCK") throw withContext(error, value);
        yield { fd, what: "readable" };
      }
    }
  } finally {
    close(fd);
  }
}

/**
 * The common case in one call: plain bytes over the socket already kept for
 * the current `NOTIFY_SOCKET`. Anything else (no socket yet, fds,
 * credentials, a full queue, an error) takes the full road, which sends
 * again from the start: a failed send(2) sent nothing.
 */
function sendFast(message: Prepared): boolean {
  const kept = connection;
  if (kept === undefined || message.fds.length > 0 || message.credentials !== undefined) return false;
  const { libc, c, backend } = system();
  if (backend.env.get(ENVIRONMENT_VARIABLE) !== kept.value) return false;
  const { bytes } = message;
  return libc.sendto(kept.fd, bytes, bytes.byteLength, c.MSG_NOSIGNAL | c.MSG_DONTWAIT, null, 0) === bytes.byteLength;
}

function start(message: Prepared): { value: string; sending: Sending } | undefined {
  const value = system().backend.env.get(ENVIRONMENT_VARIABLE);
  if (value === undefined) {
    closeConnection();
    return undefined;
  }
  const address = parseNotifySocket(value);
  const sending = address.family === "unix"
    ? sendUnix(value, address.path, message)
    : sendVsock(value, address, message);
  return { value, sending };
}

function finish(options: NotifyOptions): void {
  if (options.unsetEnv === true) {
    system().backend.env.delete(ENVIRONMENT_VARIABLE);
    closeConnection();
  }
}

function waitBlocking(wait: Wait): void {
  const { libc, c, layout } = system();
  const pollfds = encodePollfds(layout, [{ fd: wait.fd, events: wait.what === "readable" ? c.POLLIN : c.POLLOUT }]);
  for (;;) {
    const n = libc.poll(pollfds, 1, -1);
    if (n >= 0) return;
    const error = failure(n, "poll")!;
    if (error.code !== "EINTR") throw error;
  }
}

/**
 * Sends a notification to the service manager and returns when it was sent.
 * When the receiver's queue is full it blocks until there is room, like
 * libsystemd's `sd_notify()`; {@link notify} waits without blocking. A
 * message sent with it goes ahead of any that {@link notify} is still
 * holding for a full queue.
 *
 * @param message `KEY=VALUE` lines (sent byte for byte) or a {@link NotifyState}.
 * @param options Fds to pass, a pid to speak for, `unsetEnv`.
 * @returns True when sent, false when `NOTIFY_SOCKET` is not set (not started by a service manager).
 * @throws {HandoverError} `EINVAL` for a malformed `NOTIFY_SOCKET` (the message names it);
 * `ENOENT` or `ECONNREFUSED` when nothing receives there; `EBADF` for a closed fd in `fds`.
 * @throws {TypeError} For a NUL byte, a line that is not `KEY=VALUE`, an invalid `FDNAME=`, an unknown key.
 * @throws {RangeError} For a message above 4096 bytes or more than 253 fds.
 *
 * @example Tell systemd the service is ready, from a synchronous exit path
 * ```ts ignore
 * import { notifySync } from "@handover/handover";
 * notifySync("READY=1\nSTATUS=Serving on :8080");
 * process.on("exit", () => notifySync({ stopping: true }));
 * ```
 */
export function notifySync(message: NotifyMessage, options: NotifyOptions = {}): boolean {
  try {
    const prepared = prepare(message, options);
    if (sendFast(prepared)) return true;
    const started = start(prepared);
    if (started === undefined) return false;
    for (let step = started.sending.next(); step.done !== true; step = started.sending.next()) {
      waitBlocking(step.value);
    }
    return true;
  } finally {
    finish(options);
  }
}

// Messages that had to wait for room go out in the order they were given:
// while one waits, later ones queue behind it.
let waiting = 0;
let queue: Promise<unknown> = Promise.resolve();

type Immediate = (callback: () => void) => unknown;
// Looked up at first use: in Deno, touching setImmediate loads the Node compatibility layer (about 4 ms).
let immediate: Immediate | undefined;
// How long to look again after each turn of the event loop before backing
// off with timers: a receiver that keeps up drains its queue in microseconds.
const SPIN_MS = 2;
// Then look again every 1, 2, 4, 4… ms: a manager that is busy for a moment
// is not kept waiting longer than that, and one that hangs costs 250 polls a second.
const MAX_BACKOFF_MS = 4;

async function waitForRoom(wait: Wait, deadline: number | undefined, signal: AbortSignal | undefined): Promise<void> {
  const spinUntil = performance.now() + SPIN_MS;
  while (performance.now() < spinUntil) {
    immediate ??= (globalThis as { setImmediate?: Immediate }).setImmediate ?? ((callback) => setTimeout(callback, 0));
    await new Promise<void>((resolve) => immediate!(resolve));
    signal?.throwIfAborted();
    if (isReady(wait.fd, wait.what)) return;
    system().libc.sched_yield();
  }
  for (let delay = 1;; delay = Math.min(delay * 2, MAX_BACKOFF_MS)) {
    const left = deadline === undefined ? delay : Math.min(delay, deadline - Date.now());
    if (left <= 0) throw new HandoverError("ETIMEDOUT", "timed out");
    await new Promise((resolve) => setTimeout(resolve, left));
    signal?.throwIfAborted();
    if (isReady(wait.fd, wait.what)) return;
  }
}

async function drive(started: { value: string; sending: Sending }, options: NotifyOptions): Promise<void> {
  const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
  for (let step = started.sending.next(); step.done !== true; step = started.sending.next()) {
    try {
      await waitForRoom(step.value, deadline, options.signal);
      if (deadline !== undefined && Date.now() > deadline) throw new HandoverError("ETIMEDOUT", "timed out");
    } catch (error) {
      started.sending.return();
      if (error instanceof HandoverError && error.code === "ETIMEDOUT") {
        throw new HandoverError(
          "ETIMEDOUT",
          `The receiver at NOTIFY_SOCKET=${started.value} had no room for the message within ${options.timeoutMs} ms`,
        );
      }
      throw error;
    }
  }
}

/**
 * Sends a notification to the service manager. When the receiver's queue is
 * full it waits for room without blocking the event loop and loses nothing;
 * messages keep their order.
 *
 * @param message `KEY=VALUE` lines (sent byte for byte) or a {@link NotifyState}.
 * @param options Fds to pass, a pid to speak for, `unsetEnv`, a timeout for the wait.
 * @returns True when sent, false when `NOTIFY_SOCKET` is not set (not started by a service manager).
 * @throws {HandoverError} `EINVAL` for a malformed `NOTIFY_SOCKET` (the message names it);
 * `ENOENT` or `ECONNREFUSED` when nothing receives there; `EBADF` for a closed fd in `fds`;
 * `ETIMEDOUT` when `timeoutMs` passed while the queue stayed full.
 * @throws {TypeError} For a NUL byte, a line that is not `KEY=VALUE`, an invalid `FDNAME=`, an unknown key.
 * @throws {RangeError} For a message above 4096 bytes or more than 253 fds.
 *
 * @example Raw lines and a typed object say the same
 * ```ts ignore
 * import { notify } from "@handover/handover";
 * await notify("READY=1\nSTATUS=Serving on :8080");
 * await notify({ ready: true, status: "Serving on :8080" });
 * ```
 */
export async function notify(message: NotifyMessage, options: NotifyOptions = {}): Promise<boolean> {
  if (waiting > 0) return await queued(message, options);
  let started: { value: string; sending: Sending } | undefined;
  try {
    const prepared = prepare(message, options);
    if (sendFast(prepared)) {
      finish(options);
      return true;
    }
    started = start(prepared);
    if (started === undefined || started.sending.next().done === true) {
      finish(options);
      return started !== undefined;
    }
  } catch (error) {
    finish(options);
    throw error;
  }
  // The receiver's queue is full: go on in the background, first in line.
  const first = started;
  return await enqueue(async () => {
    await drive(first, options);
  }, options);
}

function enqueue(run: () => Promise<void>, options: NotifyOptions): Promise<boolean> {
  waiting++;
  const result = queue.then(run).then(() => true).finally(() => {
    waiting--;
    finish(options);
  });
  queue = result.catch(() => {});
  return result;
}

function queued(message: NotifyMessage, options: NotifyOptions): Promise<boolean> {
  let sent = true;
  return enqueue(async () => {
    const started = start(prepare(message, options));
    if (started === undefined) {
      sent = false;
      return;
    }
    await drive(started, options);
  }, options).then(() => sent);
}

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
 * import { monotonicMicroseconds } from "../mod.ts";
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
