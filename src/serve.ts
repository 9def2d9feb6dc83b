/**
 * Serving activated sockets: `adopt()` hands an inherited socket to a
 * server the application made (`Deno.serve`, `Bun.serve`, `node:http`…),
 * `serve()` serves a fetch handler on the activated socket called NAME or,
 * when the process was started directly, on a port. The runtime-specific
 * work lives in `runtimes/*_serve.ts`, loaded on first use.
 *
 * @module
 */

import { type AdoptedSocket, checkServable, type ServerKind } from "./adopt.ts";
import { HandoverError } from "./errors.ts";
import { assertFd, close } from "./fd.ts";
import type { FdDescription } from "./inspect.ts";
import { collectNamed, hasPassedSockets } from "./names.ts";
import { exitWhenIdle, type IdleTimer } from "./idle.ts";
import { loadServeAdapter } from "./runtime.ts";
import type { SocketAddress } from "./structs.ts";

export type { AdoptedSocket } from "./adopt.ts";

/** A fetch-style request handler, as `Deno.serve`, `Bun.serve` and srvx take. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/**
 * How {@link adopt} and {@link serve} put a server on an inherited socket:
 * - `auto` (default): the runtime's native way where it has one (Node's
 *   `listen({ fd })`), else adoption (SPEC §2.1), else the fallback;
 * - `adopt`: adoption or the native way, never the fallback;
 * - `fallback`: the fallback only (for measuring it, or where adoption misbehaves).
 */
export type AdoptMode = "auto" | "adopt" | "fallback";

/** Options of {@link adopt}. */
export interface AdoptOptions {
  /** Default `auto`. */
  readonly mode?: AdoptMode;
}

/** One socket a server from {@link serve} listens on. */
export interface ServedSocket {
  /** Its local address. */
  readonly address: SocketAddress;
  /** `native`, `adopted`, `proxy` or `node-http` for an inherited socket; `direct` for a port of its own. */
  readonly method: AdoptedSocket["method"] | "node-http" | "direct";
}

/** A server's handle, from a runtime's serving adapter. */
export interface ServerHandle {
  readonly socket: ServedSocket;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
  /** Stops accepting, lets running requests end, releases the socket. */
  close(): Promise<void>;
}

/** What a runtime's serving adapter (`runtimes/*_serve.ts`) exports. */
export interface ServeAdapterModule {
  /** Makes `server` serve the inherited socket; closes `server` when that fails. */
  adopt(server: unknown, inherited: FdDescription, mode: AdoptMode): Promise<AdoptedSocket>;
  /** Stops a server (after a failed adoption, so that its temporary listener does not stay open). */
  closeServer(server: unknown): Promise<void>;
  /** What kind of server `server` is, or undefined when the adapter does not know it. */
  kindOf(server: unknown): ServerKind | undefined;
  /** Serves `handler` on an inherited stream socket. */
  serveInherited(handler: FetchHandler, inherited: FdDescription, mode: AdoptMode): Promise<ServerHandle>;
  /** Lets the process exit while a timer is pending (Deno's timers are numbers). */
  unrefTimer(timer: unknown): void;
  /** Serves `handler` on a port of its own. */
  serveAddress(handler: FetchHandler, hostname: string, port: number): Promise<ServerHandle>;
}

function resolveOne(fdOrName: number | string): number {
  if (typeof fdOrName === "number") {
    assertFd(fdOrName);
    return fdOrName;
  }
  const fds = collectNamed(fdOrName);
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
 * @example Deno.serve on the socket systemd passed as "web"
 * ```ts ignore
 * import { adopt } from "@handover/handover";
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0 }, () => new Response("hello"));
 * const { address } = await adopt(server, "web");
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
  const adapter = await loadServeAdapter();
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
    await adapter.closeServer(server).catch(() => {});
    throw error;
  }
  return adapter.adopt(server, inherited, mode);
}

function describeValue(value: unknown): string {
  if (value === null || typeof value !== "object") return String(value);
  return (value as { constructor?: { name?: string } }).constructor?.name ?? "an object";
}

/** Options of {@link serve}. */
export interface ServeOptions {
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
  /** Stops the servers, lets running requests end, and releases the sockets. */
  close(): Promise<void>;
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
 * @example Serve "web" under systemd, port 8000 by hand
 * ```ts ignore
 * import { serve } from "@handover/handover";
 * const server = await serve(() => new Response("hello"), { name: "web", port: 8000 });
 * console.log(server.activated, server.sockets[0].address);
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
      onIdle: () =>
        closeAll().then(() => (globalThis as unknown as { process: { exit(code: number): never } }).process.exit(0)),
    });
    served = idle.wrap(handler);
  }
  const handles: ServerHandle[] = [];
  const closeAll = async (): Promise<void> => {
    idle?.stop();
    await Promise.all(handles.map((h) => h.close()));
  };
  const activated = hasPassedSockets();
  if (activated) {
    const fds = collectNamed(options.name ?? "unknown");
    const inherited: FdDescription[] = [];
    try {
      for (const fd of fds) inherited.push(checkServable(fd, "http"));
      for (const description of inherited) handles.push(await adapter.serveInherited(served, description, mode));
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
    handles.push(await adapter.serveAddress(served, options.hostname ?? "127.0.0.1", port));
  }
  return {
    activated,
    sockets: handles.map((h) => h.socket),
    finished: Promise.all(handles.map((h) => h.finished)).then(() => {}),
    close: closeAll,
  };
}
