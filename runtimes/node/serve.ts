/**
 * Serving with `node:net`, `node:http` and `node:dgram`, in Node and inside
 * Deno and Bun (whose adapters reuse the helpers here). Node's own
 * `listen({ fd })` is the native path; Bun's binds a random port instead
 * (bun#22559), so there a server listens on an ephemeral address and adopts
 * the socket. `node:dgram` has no fd option anywhere: sockets adopt. Fetch
 * handlers run on `node:http` through `@hono/node-server` (an optional peer
 * dependency, loaded only here: about twice srvx's throughput when measured).
 *
 * @module
 */

import type dgramModule from "node:dgram";
import type httpModule from "node:http";
import type httpsModule from "node:https";
import { createRequire } from "node:module";
import type netModule from "node:net";
import { HandoverError } from "../../src/sys/errors.ts";
import type { FetchHandler, RequestCounts, ServerKind, SocketAddress } from "../../src/types.ts";

// The node: modules are required at first use, not imported: where this file is bundled into one
// module with the rest of the library, an import would load node:https (and TLS) at start-up.
const nodeRequire = createRequire(import.meta.url);
let loadedDgram: typeof dgramModule | undefined;
let loadedHttp: typeof httpModule | undefined;
let loadedHttps: typeof httpsModule | undefined;
let loadedNet: typeof netModule | undefined;
const dgram = (): typeof dgramModule => loadedDgram ??= nodeRequire("node:dgram");
const http = (): typeof httpModule => loadedHttp ??= nodeRequire("node:http");
const https = (): typeof httpsModule => loadedHttps ??= nodeRequire("node:https");
const net = (): typeof netModule => loadedNet ??= nodeRequire("node:net");

/** A `node:net` server; in Bun `http.Server` and `https.Server` are not `net.Server`s, so each is checked. */
function isNetServer(server: unknown): server is netModule.Server {
  return server instanceof net().Server || server instanceof http().Server || server instanceof https().Server;
}

function nodeAddress(address: string | netModule.AddressInfo | null): SocketAddress | undefined {
  if (address === null) return undefined;
  if (typeof address === "string") return { family: "unix", path: address };
  const six = address.family === "IPv6" || (address.family as unknown) === 6;
  return six
    ? { family: "inet6", address: address.address, port: address.port }
    : { family: "inet", address: address.address, port: address.port };
}

function onceListening(server: netModule.Server, listen: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (error: Error) => {
      server.off("listening", done);
      reject(error);
    };
    const done = () => {
      server.off("error", fail);
      resolve();
    };
    server.once("error", fail);
    server.once("listening", done);
    listen();
  });
}

function listenOptions(address: SocketAddress): netModule.ListenOptions {
  return address.family === "unix"
    ? { path: address.path }
    : { host: (address as { address: string }).address, port: 0, ipv6Only: address.family === "inet6" };
}

function onceBound(socket: dgramModule.Socket, address: SocketAddress): Promise<void> {
  if (address.family === "unix") {
    return Promise.reject(new HandoverError("EAFNOSUPPORT", "node:dgram has no unix datagram sockets"));
  }
  return new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind({ address: (address as { address: string }).address, port: 0 }, () => {
      socket.off("error", reject);
      resolve();
    });
  });
}

/**
 * What kind of server a value is.
 *
 * @param server The value.
 * @returns `stream` for a `node:net`/`node:http`/`node:https` server, `dgram` for a `node:dgram` socket.
 */
export function kindOf(server: unknown): ServerKind | undefined {
  if (isNetServer(server)) return "stream";
  if (server instanceof dgram().Socket) return "dgram";
  return undefined;
}

/**
 * A server's address, or undefined while it does not listen.
 *
 * @param server A server {@link kindOf} knows.
 * @returns Its address.
 */
export function addressOf(server: unknown): SocketAddress | undefined {
  try {
    return nodeAddress((server as netModule.Server | dgramModule.Socket).address() as netModule.AddressInfo | null);
  } catch {
    return undefined; // ERR_SOCKET_DGRAM_NOT_RUNNING: not bound yet
  }
}

/**
 * Makes a server listen (or a datagram socket bind) on an ephemeral address.
 *
 * @param server A server {@link kindOf} knows.
 * @param address Port 0 of a loopback address, or a temporary unix path.
 */
export function listen(server: unknown, address: SocketAddress): Promise<void> {
  if (server instanceof dgram().Socket) return onceBound(server, address);
  const net = server as netModule.Server;
  return onceListening(net, () => net.listen(listenOptions(address)));
}

/**
 * `listen({ fd })`: Node's own way (and Deno's, in its Node compatibility), not Bun's (bun#22559).
 *
 * @param server A `node:net` server that does not listen yet.
 * @param fd The inherited socket.
 */
export const listenFd: ((server: unknown, fd: number) => Promise<void>) | undefined = "Bun" in globalThis
  ? undefined
  : (server, fd) => {
    const net = server as netModule.Server;
    return onceListening(net, () => net.listen({ fd }));
  };

/**
 * Closes a `node:net` server or `node:dgram` socket: gracefully, connections
 * between requests are closed as they become idle (Node's own `close()`
 * closes only those idle at the moment it is called); with `force`, all of
 * them at once.
 *
 * @param server The server.
 * @param force Close open connections too.
 */
export function close(server: unknown, force: boolean): Promise<void> {
  return new Promise((resolve) => {
    if (isNetServer(server)) {
      if (!server.listening) return resolve();
      const http = server as netModule.Server & { closeAllConnections?(): void; closeIdleConnections?(): void };
      const idle = force || http.closeIdleConnections === undefined
        ? undefined
        : setInterval(() => http.closeIdleConnections!(), 50);
      server.close(() => {
        if (idle !== undefined) clearInterval(idle);
        resolve();
      });
      if (force) http.closeAllConnections?.();
    } else if (server instanceof dgram().Socket) {
      try {
        server.close(() => resolve());
      } catch {
        resolve(); // not running
      }
    } else {
      resolve();
    }
  });
}

/**
 * Counts the requests of a `node:http` server and, once a drain began, ends
 * each response's connection (`Connection: close`), so that keep-alive
 * clients go to the next instance.
 *
 * @param server The server.
 * @returns The counts, or undefined for a server that is not HTTP.
 */
export function trackRequests(server: unknown): RequestCounts | undefined {
  if (!(server instanceof http().Server) && !(server instanceof https().Server)) return undefined;
  const counts: RequestCounts = { inflight: 0, lastStart: 0, draining: false };
  (server as httpModule.Server).prependListener("request", (_request, response) => {
    counts.inflight++;
    counts.lastStart = Date.now();
    const end = response.end;
    // Decided when the response starts: a drain may begin while the handler runs.
    response.writeHead = wrapBefore(response.writeHead, () => {
      if (counts.draining && !response.headersSent) response.shouldKeepAlive = false;
    });
    response.end = wrapBefore(end, () => {
      if (counts.draining && !response.headersSent) response.shouldKeepAlive = false;
    });
    response.once("close", () => counts.inflight--);
  });
  return counts;
}

// deno-lint-ignore no-explicit-any
function wrapBefore<F extends (...args: any[]) => any>(original: F, before: () => void): F {
  return function (this: unknown, ...args: Parameters<F>) {
    before();
    return original.apply(this, args);
  } as F;
}

const finishedOf = new WeakMap<object, Promise<void>>();

/**
 * When a server made by {@link createServer} has stopped.
 *
 * @param server The server.
 * @returns When its `close` event fired.
 */
export function finished(server: unknown): Promise<void> {
  return finishedOf.get(server as object) ?? Promise.resolve();
}

type RequestListener = (req: httpModule.IncomingMessage, res: httpModule.ServerResponse) => void;
let listenerFactory: Promise<(handler: FetchHandler) => RequestListener> | undefined;

/**
 * Turns a fetch handler into a `node:http` request listener with
 * `@hono/node-server` (an optional peer dependency of handover).
 *
 * @param handler The handler.
 * @returns The listener.
 * @throws {HandoverError} `ENOPKG` when `@hono/node-server` is not installed.
 */
export async function requestListener(handler: FetchHandler): Promise<RequestListener> {
  listenerFactory ??= (async () => {
    try {
      const module = await import("@hono/node-server");
      return (h: FetchHandler) => module.getRequestListener(h) as RequestListener;
    } catch (error) {
      listenerFactory = undefined;
      throw new HandoverError(
        "ENOPKG",
        "serve() on node:http needs @hono/node-server and hono: npm install @hono/node-server hono",
        { cause: error },
      );
    }
  })();
  return (await listenerFactory)(handler);
}

/**
 * A `node:http` server for a fetch handler, listening on `address`, or not yet when it is undefined.
 *
 * @param handler The handler.
 * @param address Where to listen.
 * @returns The server.
 */
export async function createServer(handler: FetchHandler, address: SocketAddress | undefined): Promise<unknown> {
  const server = http().createServer(await requestListener(handler));
  finishedOf.set(server, new Promise((resolve) => server.once("close", () => resolve())));
  if (address !== undefined) {
    await onceListening(
      server,
      () =>
        address.family === "unix"
          ? server.listen(address.path)
          : server.listen((address as { port: number }).port, (address as { address: string }).address),
    );
  }
  return server;
}

export { openSocketStream } from "./stream.ts";
