/**
 * Everything handover exports, without loading the backend (the CommonJS
 * build starts here; `mod.ts` adds the load).
 *
 * @module
 */

import { loadBackend } from "./runtime.ts";

export { HandoverError, type HandoverErrorOptions } from "./errors.ts";
export { socketpair, type SocketpairOptions, type SocketType } from "./socketpair.ts";
export { close, fdFlags, type Readiness, setCloseOnExec, setNonBlocking, waitForFd, type WaitOptions } from "./fd.ts";
export {
  MAX_FDS_PER_MESSAGE,
  type ReceivedMessage,
  receiveFds,
  receiveFdsSync,
  type ReceiveOptions,
  sendFds,
  sendFdsSync,
} from "./rights.ts";
export { openSocketStream, type SocketStream } from "./stream.ts";
export { childStdio, type StdioValue } from "./child.ts";
export type { Credentials, SocketAddress } from "./structs.ts";
export { describeFd, type FdDescription, type FdFamily, type FdType } from "./inspect.ts";
export { createListener, type ListenerOptions } from "./listener.ts";
export { type ActivationOptions, collect, isActivated, type ListenFd, listenFds } from "./listen.ts";
export { LAUNCHD_LIBRARY_VARIABLE } from "./launchd.ts";
export type { RuntimeName } from "./backend.ts";
export {
  extendTimeout,
  fdStore,
  type FdStoreOptions,
  fdStoreRemove,
  mainPid,
  monotonicMicroseconds,
  notify,
  notifyErrno,
  type NotifyMessage,
  type NotifyOptions,
  notifySync,
  ready,
  reloading,
  status,
  stopping,
  watchdog,
} from "./notify.ts";
export {
  assertFdName,
  formatNotifyState,
  MAX_FDNAME_LENGTH,
  MAX_NOTIFY_BYTES,
  type NotifyState,
} from "./notify_message.ts";
export { type NotifySocketAddress, parseNotifySocket, type VsockNotifyType } from "./notify_address.ts";
export {
  type HealthCheck,
  startWatchdog,
  watchdogInterval,
  type WatchdogIntervalOptions,
  type WatchdogKeepAlive,
  type WatchdogOptions,
} from "./watchdog.ts";
export { barrier, type BarrierOptions } from "./barrier.ts";
export { detectRuntime } from "./runtime.ts";
export {
  adopt,
  type AdoptedSocket,
  type AdoptMode,
  type AdoptOptions,
  type FetchHandler,
  serve,
  type ServedSocket,
  type ServeOptions,
  type Server,
} from "./serve.ts";
export { exitWhenIdle, type IdleOptions, type IdleTimer, type NodeLikeResponse } from "./idle.ts";

/**
 * Resolves when handover's FFI backend for this runtime is loaded. ES
 * modules (Deno, Bun, Node ESM) load it while being imported, so only
 * CommonJS code needs to await this before the first synchronous call.
 *
 * @returns When the backend is loaded.
 * @throws {HandoverError} `ELIBACC` when the C library cannot be loaded (in Deno: run with `--allow-ffi`).
 *
 * @example CommonJS
 * ```ts ignore
 * const handover = require("handover");
 * await handover.init();
 * const [a, b] = handover.socketpair();
 * ```
 */
export async function init(): Promise<void> {
  await loadBackend();
}
