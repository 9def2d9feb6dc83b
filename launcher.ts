/**
 * handover's launcher as a library: several apps in one process, each on its
 * own sockets (bound by the launcher, passed to the app as systemd does),
 * started at once or on the first connection, stopped after inactivity,
 * restarted with the overlapped hand-over, with typed events. What
 * `handover up` runs.
 *
 * @example Start an app and wait until it is ready
 * ```ts
 * import { Launcher } from "./launcher.ts";
 *
 * const launcher = new Launcher();
 * const [url] = launcher.add({
 *   name: "hello",
 *   command: ["node", "-e", "require('node:http').createServer((q, s) => s.end('hi')).listen({ fd: 3 })"],
 *   sockets: ["http::0"],
 * });
 * launcher.on("ready", ({ name, pid }) => console.log(`${name} is ready (pid ${pid})`));
 * await launcher.start("hello");
 * console.log(await (await fetch(url!)).text()); // "hi"
 * await launcher.close();
 * ```
 *
 * @module
 */

import { loadBackend } from "./src/ffi/loader.ts";

export * from "./src/cli/exports.ts";

// The launcher binds sockets through the runtime's FFI: load it now, so that `new Launcher()` works right after
// import. A failure (Deno without --allow-ffi) is thrown here, at import, with the reason.
await loadBackend();
