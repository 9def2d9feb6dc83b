/**
 * The exports of handover's start-up path (`handover/activation`): socket
 * activation's `collect()` and `isActivated()` with only the environment
 * rules and one C function (`fcntl`) loaded. The ES module entry
 * (`activation.ts`) loads the start-up calls with top-level await; the
 * CommonJS build starts here, and its callers `await init()` first.
 *
 * @module
 */

import { LAUNCHD_LIBRARY_VARIABLE } from "./collect.ts";
import { loadStartupCalls } from "./startup_loader.ts";

export { type ActivationOptions, collect, isActivated } from "./collect.ts";
export { HandoverError, type HandoverErrorOptions } from "./errors.ts";

/**
 * The main entry, imported by a computed specifier: Deno builds a program's
 * module graph before running it and loads every `import("…")` whose
 * specifier it can read, so a literal here would load the whole library
 * (about 2.5 ms) at every start, where it is needed only on macOS or with
 * `LISTEN_PIDFDID`. The npm builds rewrite this specifier to the same
 * runtime's build of the main entry (`tsup.config.ts`).
 */
const MAIN_ENTRY = "../mod.ts";

/**
 * Loads what `collect()` needs: the C library with `fcntl` alone; and, only
 * where the environment asks for more (macOS and its launchd, systemd 259's
 * `LISTEN_PIDFDID`, a launchd stand-in named by `HANDOVER_LAUNCHD_LIBRARY`),
 * the whole backend. The ES module entry calls it when imported; CommonJS
 * callers await it once before the first `collect()`. A failure to load (Deno
 * without `--allow-ffi`) is kept and thrown by `collect()`.
 *
 * @returns When the calls are loaded (never rejects).
 *
 * @example CommonJS
 * ```ts ignore
 * const { init, collect } = require("handover/activation");
 * init().then(() => require("node:http").createServer(app).listen({ fd: collect("web")[0] }));
 * ```
 */
export async function init(): Promise<void> {
  const calls = await loadStartupCalls().catch(() => undefined);
  if (calls === undefined) return;
  const needsMore = calls.os === "darwin" ||
    calls.env.peek("LISTEN_PIDFDID") !== undefined ||
    calls.env.peek(LAUNCHD_LIBRARY_VARIABLE) !== undefined;
  if (!needsMore) return;
  // The main entry: it loads the whole backend and installs launchd and the pidfd check for collect().
  // (Each npm build imports its own runtime's build of it, as a file of its own.)
  const main = await (import(MAIN_ENTRY) as Promise<typeof import("../mod.ts")>);
  await main.init().catch(() => {});
}
