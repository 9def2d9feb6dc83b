/**
 * handover's start-up path: socket activation alone, for services that must
 * answer their first connection as soon as they start. `collect()` and
 * `isActivated()` behave exactly as in the main entry (they are the same
 * functions, and share the same state, so a name collected here cannot be
 * collected there again), but importing this entry loads only the
 * environment rules and binds one C function, `fcntl` — not the serving,
 * notify and fd-passing code. Import the main entry when you need the rest.
 *
 * @example Serve a systemd socket named "web" with node:http, or a port of your own
 * ```ts ignore
 * import http from "node:http";
 * import { collect, isActivated } from "@handover/handover/activation";
 *
 * const server = http.createServer((_req, res) => res.end("hello\n"));
 * if (isActivated()) server.listen({ fd: collect("web")[0] });
 * else server.listen(8080);
 * ```
 *
 * @module
 */

import { init } from "./src/activation_api.ts";

export * from "./src/activation_api.ts";

// Load the start-up calls now so that collect() works right after import. A failure (Deno without
// --allow-ffi) is kept and thrown by collect(), so importing never fails by itself.
await init();
