/**
 * `init()`, shared by both entries: resolves once the FFI is loaded, which
 * every build does by itself now (the ES modules while being imported, the
 * CommonJS builds at `require()` in Node and Bun). Kept for code that awaits
 * it.
 *
 * @module
 */

import { loadActivation } from "./activation/collect.ts";
import { currentBackend } from "./ffi/system.ts";

/**
 * Resolves when handover's FFI for this runtime is loaded. Nothing needs to
 * wait for it any more: ES modules (Deno, Bun, Node) load the FFI while being
 * imported, and the CommonJS builds load it at `require()` in Node and Bun.
 * It resolves at once there, and stays for code written for versions where
 * CommonJS had to await it.
 *
 * @returns When the FFI is loaded.
 * @throws {HandoverError} `ELIBACC` when the C library cannot be loaded (in Deno: run with `--allow-ffi`).
 *
 * @example CommonJS: nothing to wait for
 * ```ts ignore
 * const handover = require("handover");
 * const [a, b] = handover.socketpair(); // works at once
 * await handover.init(); // resolves at once
 * ```
 */
export async function init(): Promise<void> {
  await loadActivation();
  currentBackend();
}
