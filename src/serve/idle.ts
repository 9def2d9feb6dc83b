/**
 * Idle exit: end the process after N seconds without requests, for services
 * started on demand by a socket unit or the handover launcher.
 *
 * @module
 */

import type { FetchHandler } from "../types.ts";
import { system } from "../ffi/system.ts";
import { observeHandler } from "./handler.ts";

/** What {@link exitWhenIdle} returns. */
export interface IdleTimer {
  /** Marks activity now (restarts the countdown). */
  touch(): void;
  /** Marks a request as started; call the returned function when it ends. No countdown runs while requests are open. */
  begin(): () => void;
  /** Wraps a fetch handler so that each request counts as activity until its response is made. */
  wrap(handler: FetchHandler): FetchHandler;
  /** Counts the requests of a `node:http` server (its `request` event and each response's `close`). */
  watch(server: { on(event: "request", listener: (req: unknown, res: NodeLikeResponse) => void): unknown }): void;
  /** Cancels the timer. */
  stop(): void;
}

/** The part of a `node:http` response {@link IdleTimer.watch} uses. */
export interface NodeLikeResponse {
  /** Adds a one-time listener for the response's `close` event. */
  once(event: "close", listener: () => void): unknown;
}

/** Options of {@link exitWhenIdle}. */
export interface IdleOptions {
  /** Called instead of `process.exit(0)` when the time is up (close your servers, then exit). */
  readonly onIdle?: () => void | Promise<void>;
}

/**
 * Ends the process after `seconds` without requests, for services started on
 * demand (a socket unit starts them again on the next connection; the
 * socket stays with the service manager, so no connection is lost). The
 * timer never keeps the process alive by itself.
 *
 * @param seconds Idle time before exiting.
 * @param options What to do instead of `process.exit(0)`.
 * @returns The timer: wrap handlers with it, or `watch()` a node:http server.
 * @throws {RangeError} When `seconds` is not a positive number.
 *
 * @example Close the server after 0.25 s without requests
 * ```ts
 * import { exitWhenIdle } from "../../mod.ts";
 * // A service passes 30 or so and no onIdle: the process exits 0, and its socket unit starts it again on demand.
 * const idle = exitWhenIdle(0.25, { onIdle: () => server.shutdown() });
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, idle.wrap(() => new Response("hi")));
 * await (await fetch(`http://127.0.0.1:${server.addr.port}/`)).text(); // "hi", and the countdown starts again
 * await server.finished; // 0.25 s after that request
 * ```
 */
export function exitWhenIdle(seconds: number, options: IdleOptions = {}): IdleTimer {
  if (typeof seconds !== "number" || !(seconds > 0) || !Number.isFinite(seconds)) {
    throw new RangeError(`Expected idle seconds to be a positive number, got ${seconds}`);
  }
  const ms = seconds * 1000;
  let open = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  let fired = false;
  const fire = async () => {
    if (stopped || fired || open > 0) return;
    fired = true;
    if (options.onIdle !== undefined) await options.onIdle();
    else system().backend.exit(0);
  };
  const arm = () => {
    if (stopped || fired) return;
    if (timer !== undefined) clearTimer(timer);
    timer = open > 0 ? undefined : setTimeout(fire, ms);
    if (timer !== undefined) system().backend.unrefTimer(timer);
  };
  const begin = () => {
    open++;
    if (timer !== undefined) clearTimer(timer);
    timer = undefined;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      open--;
      arm();
    };
  };
  arm();
  return {
    touch: arm,
    begin,
    wrap(handler: FetchHandler): FetchHandler {
      return observeHandler(handler, begin);
    },
    watch(server) {
      server.on("request", (_req, res) => res.once("close", begin()));
    },
    stop() {
      stopped = true;
      if (timer !== undefined) clearTimer(timer);
    },
  };
}

function clearTimer(timer: ReturnType<typeof setTimeout>): void {
  clearTimeout(timer);
}
