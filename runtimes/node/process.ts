/**
 * What Node and Bun answer alike through `process`: the pid, exit, timers
 * that do not keep the process alive, and signals (Bun's FFI file uses it
 * too).
 *
 * @module
 */

import type { Backend } from "../../src/types.ts";

/** The process facts of a {@link Backend} in a runtime with Node's `process`. */
export const processFacts: Pick<Backend, "pid" | "exit" | "unrefTimer" | "onSignal"> = {
  pid: process.pid,
  exit: (code) => process.exit(code),
  unrefTimer: (timer) => (timer as { unref(): void }).unref(),
  onSignal: (signal, listener) => {
    process.on(signal, listener);
    return () => process.off(signal, listener);
  },
};
