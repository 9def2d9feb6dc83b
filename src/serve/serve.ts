/**
 * Serving activated sockets: `adopt()` hands an inherited socket to a
 * server the application made (`Deno.serve`, `Bun.serve`, `node:http`…),
 * `serve()` serves a fetch handler on the activated socket called NAME or,
 * when the process was started directly, on a port. The runtime-specific
 * work lives in `runtimes/*_serve.ts`, loaded on first use.
 *
 * @module
 */

import { checkServable } from "./transplant.ts";
import { adapterFor, drainingOf, putOnSocket, serveDirect, serveInherited, type ServerHandle } from "./policy.ts";
import { drainServer, type DrainTimes, RequestTracker } from "./drain.ts";
import { drainOnSignals } from "./signals.ts";
import type { AdoptedSocket, AdoptMode, FetchHandler, ServedSocket } from "../types.ts";
import { HandoverError } from "../sys/errors.ts";
import { assertFd, close } from "../fd/fd.ts";
import type { FdDescription } from "../fd/inspect.ts";
import { collect, isActivated } from "../activation/listen_fds.ts";
import { exitWhenIdle, type IdleTimer } from "./idle.ts";
import { loadServeAdapter } from "../ffi/loader.ts";
import { system } from "../ffi/system.ts";

export type { AdoptedSocket, AdoptMode, FetchHandler, ServedSocket } from "../types.ts";
export type { DrainTimes } from "./drain.ts";

/** How a server stops: on which signals, and how long its drain may take. */
export interface DrainOptions extends DrainTimes {
  /**
   * On SIGTERM and SIGINT, drain (stop accepting, answer every connection
   * already accepted, then close), send `STOPPING=1` where there is a
   * `NOTIFY_SOCKET`, and exit 0 (default true). False leaves the signals to
   * the application.
   */
  readonly drainOnSignal?: boolean;
}

/** Options of {@link adopt}. */
export interface AdoptOptions extends DrainOptions {
  /** Default `auto`. */
  readonly mode?: AdoptMode;
}

/** How each adopted server drains (for {@link drain}). */
const adopted = new WeakMap<object, { drain(times?: DrainTimes): Promise<void> }>();

/**
 * The fds passed for `name`, or undefined when the process was started
 * directly. systemd is asked through the environment; on macOS launchd can
 * only be asked by name, so there `collect()` tells (ESRCH: not launchd's).
 */
function activatedFds(name: string): number[] | undefined {
  if (isActivated()) return collect(name);
  if (system().os !== "darwin") return undefined;
  try {
    return collect(name);
  } catch (error) {
    if (error instanceof HandoverError && error.code === "ESRCH") return undefined;
    throw error;
  }
}

function resolveOne(fdOrName: number | string): number {
  if (typeof fdOrName === "number") {
    assertFd(fdOrName);
    return fdOrName;
  }
  const fds = collect(fdOrName);
  if (fds.length !== 1) {
    for (const fd of fds) close(fd);
    throw new HandoverError(
      "ENOTUNIQ",
      `The socket ${JSON.stringify(fdOrName)} has ${fds.length} fds (${fds.join(", ")}); ` +
        "a server adopts one: use serve(), which starts one server per fd",
    );
  }
  return fds[0]!;
}

/**
 * Makes a running native server serve an inherited socket instead of the
 * ephemeral one it was created on: the object `Deno.serve()` or `Deno.listen()`
 * returns, `Bun.serve()`, `Bun.listen()` or `Bun.udpSocket()`, a `node:net`,
 * `node:http` or `node:https` server (in any of the three runtimes) or a
 * `node:dgram` socket.
 *
 * Create the server on loopback port 0 of the inherited socket's family
 * (`127.0.0.1`, `::1`) or on a temporary unix path; a `node:net`/`node:http`
 * server may also be passed before `listen()`, and then takes the fd natively
 * where the runtime can (Node, Deno). Afterwards the ephemeral socket is gone
 * and the server serves the inherited one at its full native speed; closing
 * the server closes it. When adoption cannot run (no epoll: macOS, an unknown
 * event loop), `auto` mode falls back to an accept loop that forwards each
 * connection to the server (slower; see the README's table).
 *
 * @param server The server.
 * @param fdOrName An inherited fd, or the name of the activated socket (`FileDescriptorName=`).
 * @param options The mode.
 * @returns Where and how it is served now.
 * @throws {HandoverError} `ENOTSOCK` (not a socket), `EBADF` (closed fd), `EPROTOTYPE` (a datagram
 * socket for an HTTP server, or the reverse), `EAFNOSUPPORT` (the server's family differs), `ENOTSUP`
 * (adoption cannot run and mode is `adopt`), `EINVAL` (a stream socket that is not listening); the
 * server is closed when adoption fails.
 * @throws {TypeError} When the server is of a kind handover does not know.
 *
 * @example Deno.serve on a listening socket (under systemd: `adopt(server, "web")`)
 * ```ts
 * import { adopt, createListener } from "../../mod.ts";
 * const fd = createListener({ port: 0 }); // stands in for the socket systemd passes as "web"
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response("hello"));
 * const { address, method } = await adopt(server, fd, { drainOnSignal: false });
 * method; // "adopted" on Linux: the server accepts on fd's socket now, its own is gone ("proxy" on macOS)
 * const { port } = address as { port: number }; // fd's port
 * await (await fetch(`http://127.0.0.1:${port}/`)).text(); // "hello"
 * await server.shutdown(); // closes the adopted socket too
 * ```
 */
export async function adopt(
  server: unknown,
  fdOrName: number | string,
  options: AdoptOptions = {},
): Promise<AdoptedSocket> {
  const mode = options.mode ?? "auto";
  if (!["auto", "adopt", "fallback"].includes(mode)) {
    throw new TypeError(`Expected mode to be auto, adopt or fallback, got ${JSON.stringify(mode)}`);
  }
  const adapter = await adapterFor(await loadServeAdapter(), server);
  const kind = adapter.kindOf(server);
  if (kind === undefined) {
    throw new TypeError(
      "Expected a server from Deno's serve()/listen(), Bun's serve()/listen()/udpSocket(), " +
        `node:net/http/https or node:dgram, got ${describeValue(server)}`,
    );
  }
  let inherited: FdDescription;
  try {
    inherited = checkServable(resolveOne(fdOrName), kind);
  } catch (error) {
    await adapter.close(server, true).catch(() => {});
    throw error;
  }
  const { socket, stopForwarder } = await putOnSocket(adapter, server, inherited, mode);
  // Handlers wrapped with drainable() count their requests in one tracker for the process.
  const requests = kind === "http" && adapter.trackRequests === undefined ? drainableRequests : undefined;
  const draining = drainingOf(adapter, server, socket, stopForwarder, requests);
  let unregister = (): void => {};
  let drained: Promise<void> | undefined;
  const drainIt = (times: DrainTimes = options): Promise<void> => {
    unregister();
    drained ??= drainServer(draining, times);
    return drained;
  };
  if (typeof server === "object" && server !== null) adopted.set(server, { drain: drainIt });
  if (options.drainOnSignal ?? true) unregister = drainOnSignals(() => drainIt());
  return socket;
}

/**
 * Stops a server {@link adopt} put on an inherited socket without dropping a
 * connection: stops accepting on the shared socket (which systemd or the
 * launcher keeps open, queueing connections for the next instance), gives
 * every connection already accepted its answer — including one whose request
 * has not arrived yet, for `settleMs` — then closes the server gracefully;
 * whatever is still open after `graceMs` (default 10 s) is closed. `adopt()`
 * does this on SIGTERM and SIGINT by itself unless told not to.
 *
 * @param server A server passed to {@link adopt}.
 * @param times The grace and settle periods (default: what `adopt()` was given).
 * @returns When the server has stopped.
 * @throws {TypeError} When `server` was not adopted.
 *
 * @example Stop on your own signal, with a shorter grace
 * ```ts
 * import { adopt, createListener, drain } from "../../mod.ts";
 * const fd = createListener({ port: 0 }); // stands in for the socket systemd passes as "web"
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response("hello"));
 * await adopt(server, fd, { drainOnSignal: false });
 * const stopped = Promise.withResolvers<void>();
 * const onSignal = () => void drain(server, { graceMs: 2000 }).then(stopped.resolve); // a service exits 0 here
 * Deno.addSignalListener("SIGUSR2", onSignal);
 * Deno.kill(Deno.pid, "SIGUSR2"); // as `systemctl kill -s SIGUSR2 app.service` would
 * await stopped.promise; // every accepted connection answered, the server closed
 * Deno.removeSignalListener("SIGUSR2", onSignal);
 * ```
 */
export function drain(server: unknown, times?: DrainTimes): Promise<void> {
  const entry = typeof server === "object" && server !== null ? adopted.get(server) : undefined;
  if (entry === undefined) throw new TypeError("Expected a server that adopt() put on an inherited socket");
  return entry.drain(times);
}

const drainableRequests = new RequestTracker();

/**
 * Wraps the fetch handler of a `Deno.serve()` or `Bun.serve()` server you
 * pass to {@link adopt}, so that its drain can see the requests: it waits for
 * running ones, and answers the next request on each keep-alive connection
 * with `Connection: close` instead of closing the connection under a client
 * that is about to send on it. (`serve()` does this for its own handler;
 * `node:http` servers need nothing: their `request` events tell.)
 *
 * @param handler The server's fetch handler.
 * @returns The same handler, counted.
 *
 * @example Deno.serve, adopted, with keep-alive clients
 * ```ts
 * import { adopt, createListener, drainable } from "../../mod.ts";
 *
 * const inherited = createListener({ port: 0 }); // what systemd would pass
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, drainable(() => new Response("hello")));
 * const { address } = await adopt(server, inherited, { drainOnSignal: false });
 * const port = (address as { port: number }).port;
 * console.log(await (await fetch(`http://127.0.0.1:${port}/`)).text()); // "hello"
 * await server.shutdown();
 * ```
 */
export function drainable(handler: FetchHandler): FetchHandler {
  if (typeof handler !== "function") throw new TypeError(`Expected a handler function, got ${typeof handler}`);
  return drainableRequests.wrap(handler);
}

function describeValue(value: unknown): string {
  if (value === null || typeof value !== "object") return String(value);
  return (value as { constructor?: { name?: string } }).constructor?.name ?? "an object";
}

/** Options of {@link serve}. */
export interface ServeOptions extends DrainOptions {
  /** The activated socket to serve (`FileDescriptorName=` of the .socket unit); default `unknown`, systemd's name for unnamed sockets. */
  readonly name?: string;
  /** The port to listen on when the process was not socket-activated (default 8000). */
  readonly port?: number;
  /** The address to listen on when not activated (default `127.0.0.1`). */
  readonly hostname?: string;
  /** Default `auto`, see {@link AdoptMode}. */
  readonly mode?: AdoptMode;
  /** Ends the process after this many seconds without a request (see {@link exitWhenIdle}). */
  readonly idleTimeout?: number;
}

/** What {@link serve} returns. */
export interface Server {
  /** True when the sockets came from the service manager. */
  readonly activated: boolean;
  /** The sockets served: one per fd of the name (an IPv4 and an IPv6 socket are two), or the port. */
  readonly sockets: readonly ServedSocket[];
  /** Resolves when every socket's server has stopped. */
  readonly finished: Promise<void>;
  /**
   * Drains the servers: stops accepting, answers every connection already
   * accepted, then releases the sockets (see {@link drain}).
   */
  close(times?: DrainTimes): Promise<void>;
}

/**
 * Serves a fetch handler with the runtime's own server (`Deno.serve`,
 * `Bun.serve`, `node:http` through srvx) on the activated socket `name`, or,
 * when the process was started directly (no `LISTEN_FDS` for it), on
 * `hostname:port`. The same code runs under systemd, under the `handover`
 * launcher and by hand.
 *
 * @param handler The request handler.
 * @param options The socket name, the fallback port, the mode, an idle timeout.
 * @returns The running server.
 * @throws {HandoverError} As {@link adopt}; `ENOENT`/`EALREADY`/`EINVAL` from the activation
 * environment when the process was activated but the name is missing or taken.
 *
 * @example Serve "web" under systemd, a port of its own when started by hand
 * ```ts
 * import { serve } from "../../mod.ts";
 * // Started by hand (no LISTEN_FDS), so it listens on hostname:port; port 0 picks a free one.
 * const server = await serve(() => new Response("hello"), { name: "web", port: 0 });
 * server.activated; // false (true under systemd or the handover launcher)
 * const { address, method } = server.sockets[0]!; // method: "direct"
 * const { port } = address as { port: number };
 * await (await fetch(`http://127.0.0.1:${port}/`)).text(); // "hello"
 * await server.close(); // the drain SIGTERM and SIGINT start, without the exit
 * ```
 */
export async function serve(handler: FetchHandler, options: ServeOptions = {}): Promise<Server> {
  if (typeof handler !== "function") throw new TypeError(`Expected a handler function, got ${typeof handler}`);
  const port = options.port ?? 8000;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`Expected a port from 0 to 65535, got ${port}`);
  }
  const mode = options.mode ?? "auto";
  const adapter = await loadServeAdapter();
  let served = handler;
  let idle: IdleTimer | undefined;
  if (options.idleTimeout !== undefined) {
    idle = exitWhenIdle(options.idleTimeout, {
      onIdle: () => closeAll().then(() => system().backend.exit(0)),
    });
    served = idle.wrap(handler);
  }
  const requests = new RequestTracker();
  served = requests.wrap(served);
  const handles: ServerHandle[] = [];
  let unregister = (): void => {};
  const closeAll = async (times: DrainTimes = options): Promise<void> => {
    unregister();
    idle?.stop();
    await Promise.all(handles.map((h) => h.close(times)));
  };
  const fds = activatedFds(options.name ?? "unknown");
  const activated = fds !== undefined;
  if (activated) {
    const inherited: FdDescription[] = [];
    try {
      for (const fd of fds) inherited.push(checkServable(fd, "http"));
      for (const description of inherited) {
        handles.push(await serveInherited(adapter, served, description, mode, requests));
      }
    } catch (error) {
      await closeAll().catch(() => {});
      for (const fd of fds.slice(handles.length)) {
        try {
          close(fd);
        } catch { /* adoption closed it already */ }
      }
      throw error;
    }
  } else {
    handles.push(await serveDirect(adapter, served, options.hostname ?? "127.0.0.1", port, requests));
  }
  if (options.drainOnSignal ?? true) unregister = drainOnSignals(() => closeAll());
  return {
    activated,
    sockets: handles.map((h) => h.socket),
    finished: Promise.all(handles.map((h) => h.finished)).then(() => {}),
    close: closeAll,
  };
}
