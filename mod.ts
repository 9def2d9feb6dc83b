/**
 * handover lets a Deno, Bun or Node process speak the service-manager
 * protocols natively, with no compiled add-on: take the sockets systemd or
 * launchd opened for it, tell systemd it is ready, and hand file descriptors
 * to children. It calls libc through each runtime's own FFI.
 *
 * @example A socket pair
 * ```ts
 * import { close, socketpair } from "./mod.ts";
 *
 * const [a, b] = socketpair("stream");
 * close(a);
 * close(b);
 * ```
 *
 * @module
 */

import { loadActivation } from "./src/activation/collect.ts";

export * from "./src/api.ts";

// Load the FFI now so that the synchronous API works right after import. A failure (say, Deno without
// --allow-ffi) is kept and thrown by the first call that needs the FFI, so importing never fails by itself.
await loadActivation(true);
