/**
 * handover's start-up path: socket activation alone, for services that must
 * answer their first connection as soon as they start. `collect()` and
 * `isActivated()` are the main entry's own functions (the same module, the
 * same state, so a name collected here cannot be collected there again), but
 * importing this entry loads only the environment rules and the runtime's
 * FFI, and binds one C function, `fcntl` — not the serving, notify and
 * fd-passing code. Import the main entry when you need the rest.
 *
 * @example Serve a systemd socket named "web" with node:http, or a port of your own
 * ```ts
 * import http from "node:http";
 * import { collect, isActivated } from "./activation.ts";
 *
 * const server = http.createServer((_req, res) => res.end("hello\n"));
 * if (isActivated()) server.listen({ fd: collect("web")[0] });
 * else server.listen(0, "127.0.0.1", () => server.close());
 * ```
 *
 * @module
 */

import { loadActivation } from "./src/activation/collect.ts";

export * from "./src/activation/exports.ts";

// Load the runtime's FFI now so that collect() works right after import. A failure (Deno without
// --allow-ffi) is kept and thrown by collect(), so importing never fails by itself.
await loadActivation();
