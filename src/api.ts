/**
 * Everything handover exports, without loading the backend: `mod.ts` adds
 * the load for ES modules, `src/commonjs.ts` for the CommonJS build.
 *
 * @module
 */

export { HandoverError, type HandoverErrorOptions } from "./sys/errors.ts";
export { socketpair, type SocketpairOptions, type SocketType } from "./fd/socketpair.ts";
export {
  close,
  fdFlags,
  type Readiness,
  setCloseOnExec,
  setNonBlocking,
  waitForFd,
  type WaitOptions,
} from "./fd/fd.ts";
export {
  MAX_FDS_PER_MESSAGE,
  type ReceivedMessage,
  receiveFds,
  receiveFdsSync,
  type ReceiveOptions,
  sendFds,
  sendFdsSync,
} from "./fd/rights.ts";
export { openSocketStream, type SocketStream } from "./fd/stream.ts";
export { childStdio, type StdioValue } from "./fd/child.ts";
export type { Credentials, SocketAddress } from "./types.ts";
export { describeFd, type FdDescription, type FdFamily, type FdType } from "./fd/inspect.ts";
export { createListener, type ListenerOptions } from "./fd/create_listener.ts";
export { type ActivationOptions, collect, isActivated, type ListenFd, listenFds } from "./activation/listen_fds.ts";
export { LAUNCHD_LIBRARY_VARIABLE } from "./activation/environment.ts";
export type { RuntimeName } from "./types.ts";
export { init } from "./init.ts";
export { notify, type NotifyMessage, type NotifyOptions, notifySync } from "./notify/notify.ts";
export {
  extendTimeout,
  fdStore,
  type FdStoreOptions,
  fdStoreRemove,
  mainPid,
  monotonicMicroseconds,
  notifyErrno,
  ready,
  reloading,
  status,
  stopping,
  watchdog,
} from "./notify/states.ts";
export {
  assertFdName,
  formatNotifyState,
  MAX_FDNAME_LENGTH,
  MAX_NOTIFY_BYTES,
  type NotifyState,
} from "./notify/message.ts";
export { type NotifySocketAddress, parseNotifySocket, type VsockNotifyType } from "./notify/address.ts";
export {
  type HealthCheck,
  startWatchdog,
  watchdogInterval,
  type WatchdogIntervalOptions,
  type WatchdogKeepAlive,
  type WatchdogOptions,
} from "./notify/watchdog.ts";
export { barrier, type BarrierOptions } from "./notify/barrier.ts";
export { detectRuntime } from "./ffi/loader.ts";
export {
  adopt,
  type AdoptedSocket,
  type AdoptMode,
  type AdoptOptions,
  drain,
  drainable,
  type DrainOptions,
  type DrainTimes,
  type FetchHandler,
  serve,
  type ServedSocket,
  type ServeOptions,
  type Server,
} from "./serve/serve.ts";
export { exitWhenIdle, type IdleOptions, type IdleTimer, type NodeLikeResponse } from "./serve/idle.ts";
