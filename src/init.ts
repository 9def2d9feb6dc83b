/**
 * `init()`: what CommonJS code awaits before its first synchronous call,
 * shared by both entries.
 *
 * @module
 */

import { loadActivation } from "./activation/collect.ts";
import { currentBackend } from "./ffi/system.ts";

/**
 * Resolves when handover's FFI for this runtime is loaded. ES modules (Deno,
 * Bun, Node ESM) load it while being imported, so only CommonJS code needs
 * to await this before the first synchronous call.
 *
 * @returns When the FFI is loaded.
 * @throws {HandoverError} `ELIBACC` when the C library cannot be loaded (in Deno: run with `--allow-ffi`).
 *
 * @example CommonJS: `require("handover")` loads no FFI, so the first synchronous call waits for init()
 * ```ts
 * import * as handover from "./api.ts"; // what `const handover = require("handover")` gets: the API, not loaded
 * try {
 *   handover.socketpair();
 * } catch (error) {
 *   (error as handover.HandoverError).code; // "ERR_HANDOVER_NOT_READY"
 * }
 * await handover.init();
 * const [a, b] = handover.socketpair();
 * handover.close(a);
 * handover.close(b);
 * ```
 */
export async function init(): Promise<void> {
  await loadActivation();
  currentBackend();
}
