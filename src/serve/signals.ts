/**
 * Draining on SIGTERM and SIGINT: every server `serve()` or `adopt()` set up
 * (unless told not to) is drained, `STOPPING=1` goes to the service manager
 * where there is one, and the process exits 0.
 *
 * @module
 */

import { currentBackend } from "../ffi/system.ts";
import { stopping } from "../notify/states.ts";

const drains = new Set<() => Promise<void>>();
let removeListeners: (() => void)[] | undefined;
let stopped = false;

async function stop(signal: "SIGTERM" | "SIGINT"): Promise<void> {
  const backend = currentBackend();
  if (stopped) {
    // Ctrl-C again while draining: the user is out of patience (another SIGTERM changes nothing).
    if (signal === "SIGINT") backend.exit(130);
    return;
  }
  stopped = true;
  await stopping().catch(() => false);
  await Promise.allSettled([...drains].map((drain) => drain()));
  backend.exit(0);
}

/**
 * Drains `drain` on SIGTERM and SIGINT, with every other server registered,
 * then exits 0. The listeners are there only while a server is registered, so
 * a process whose servers are all closed dies of these signals as usual.
 *
 * @param drain Drains one server.
 * @returns A function that unregisters it (call it when the server is closed otherwise).
 *
 * @example Register a server, and unregister it when it is closed another way
 * ```ts
 * import "../../mod.ts"; // loads the FFI backend
 * import { drainOnSignals } from "./signals.ts";
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response("hello"));
 * const unregister = drainOnSignals(() => server.shutdown()); // SIGTERM: STOPPING=1, shutdown(), exit 0
 * await server.shutdown();
 * unregister(); // the last one: the SIGTERM and SIGINT listeners are removed
 * ```
 */
export function drainOnSignals(drain: () => Promise<void>): () => void {
  drains.add(drain);
  if (removeListeners === undefined) {
    const backend = currentBackend();
    removeListeners = [
      backend.onSignal("SIGTERM", () => void stop("SIGTERM")),
      backend.onSignal("SIGINT", () => void stop("SIGINT")),
    ];
  }
  return () => {
    drains.delete(drain);
    if (drains.size === 0 && !stopped && removeListeners !== undefined) {
      for (const remove of removeListeners) remove();
      removeListeners = undefined;
    }
  };
}
