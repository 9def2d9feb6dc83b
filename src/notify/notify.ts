/**
 * `sd_notify`: {@link notify} and {@link notifySync} send one message to the
 * service manager's `NOTIFY_SOCKET` (see `src/notify/transport.ts` for how).
 *
 * @module
 */

import { HandoverError } from "../sys/errors.ts";
import { isReady } from "../fd/fd.ts";
import { parseNotifySocket } from "./address.ts";
import { environmentVariable, system } from "../ffi/system.ts";
import {
  closeConnection,
  ENVIRONMENT_VARIABLE,
  finish,
  type NotifyMessage,
  type NotifyOptions,
  prepare,
  type Prepared,
  sendFast,
  type Sending,
  sendUnix,
  type Wait,
  waitBlocking,
} from "./transport.ts";
import { sendVsock } from "./vsock.ts";

export type { NotifyMessage, NotifyOptions } from "./transport.ts";

function start(message: Prepared): { value: string; sending: Sending } | undefined {
  const value = environmentVariable(ENVIRONMENT_VARIABLE);
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
 * @example Sent before it returns, so it works in an exit handler too
 * ```ts
 * import { close, createListener, notifySync, receiveFdsSync } from "../../mod.ts";
 * const dir = Deno.makeTempDirSync(); // a stand-in for systemd's notify socket
 * const manager = createListener({ path: `${dir}/notify`, type: "dgram" });
 * Deno.env.set("NOTIFY_SOCKET", `${dir}/notify`);
 * notifySync({ stopping: true }, { unsetEnv: true }); // true
 * new TextDecoder().decode(receiveFdsSync(manager).data); // "STOPPING=1"
 * close(manager);
 * Deno.removeSync(dir, { recursive: true });
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
 * ```ts
 * import { close, createListener, notify, receiveFdsSync } from "../../mod.ts";
 * const dir = Deno.makeTempDirSync(); // a stand-in for systemd's notify socket
 * const manager = createListener({ path: `${dir}/notify`, type: "dgram" });
 * Deno.env.set("NOTIFY_SOCKET", `${dir}/notify`);
 * await notify("READY=1\nSTATUS=Serving on :8080"); // true
 * await notify({ ready: true, status: "Serving on :8080" }, { unsetEnv: true }); // true
 * const received = () => new TextDecoder().decode(receiveFdsSync(manager).data);
 * received() === received(); // true: both are "READY=1\nSTATUS=Serving on :8080"
 * close(manager);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function notify(message: NotifyMessage, options: NotifyOptions = {}): Promise<boolean> {
  // Not an async function: the common case answers with a promise made once, which in a loop of notify() calls
  // (a watchdog, a progress STATUS=) spares the runtime an async function's own promise.
  try {
    if (waiting > 0) return queued(message, options);
    let started: { value: string; sending: Sending } | undefined;
    try {
      const prepared = prepare(message, options);
      if (sendFast(prepared)) {
        finish(options);
        return SENT;
      }
      started = start(prepared);
      if (started === undefined || started.sending.next().done === true) {
        finish(options);
        return started !== undefined ? SENT : NOT_SENT;
      }
    } catch (error) {
      finish(options);
      throw error;
    }
    // The receiver's queue is full: go on in the background, first in line.
    const first = started;
    return enqueue(async () => {
      await drive(first, options);
    }, options);
  } catch (error) {
    return Promise.reject(error);
  }
}

const SENT: Promise<boolean> = Promise.resolve(true);
const NOT_SENT: Promise<boolean> = Promise.resolve(false);

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
