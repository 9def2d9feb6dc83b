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
import {
  type AdoptedSocket,
  ephemeralAddress,
  removeSocketPath,
  type ServerKind,
  temporarySocketPath,
  transplant,
} from "../src/adopt.ts";
import { HandoverError } from "../src/errors.ts";
import type { FdDescription } from "../src/inspect.ts";
import { startForwarder } from "../src/proxy.ts";
import { openSocketStream } from "./node_stream.ts";
import { withFallback } from "./serve_common.ts";
import type { AdoptMode, FetchHandler, ServerHandle } from "../src/backend.ts";
import { localAddress } from "../src/socket.ts";
import type { SocketAddress } from "../src/structs.ts";

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

/**
 * The kind of a `node:net`/`node:http` server or `node:dgram` socket.
 *
 * @param server The value.
 * @returns The kind, or undefined for anything else.
 */
export function nodeKindOf(server: unknown): ServerKind | undefined {
  if (isNetServer(server)) return "stream";
  if (server instanceof dgram().Socket) return "dgram";
  return undefined;
}

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

/** Whether this runtime's `net.Server.listen({ fd })` serves the fd (Bun's binds a random port, bun#22559). */
function listenFdWorks(): boolean {
  return !("Bun" in globalThis);
}

function listenOptions(address: SocketAddress): netModule.ListenOptions {
  return address.family === "unix"
    ? { path: address.path }
    : { host: (address as { address: string }).address, port: 0, ipv6Only: address.family === "inet6" };
}

async function adoptNetServer(
  server: netModule.Server,
  inherited: FdDescription,
  mode: AdoptMode,
): Promise<AdoptedSocket> {
  if (!server.listening && listenFdWorks() && mode !== "fallback") {
    await onceListening(server, () => server.listen({ fd: inherited.fd }));
    // Verify: the server must now listen on the inherited socket's address.
    const now = nodeAddress(server.address());
    const actual = localAddress(inherited.fd);
    if (
      now !== undefined && now.family !== "unix" && actual.family !== "unix" && "port" in actual &&
      (now as { port: number }).port !== actual.port
    ) {
      await closeNodeObject(server);
      throw new HandoverError(
        "EIO",
        `listen({ fd: ${inherited.fd} }) listens on port ${(now as { port: number }).port}, not ${actual.port}`,
      );
    }
    return { fd: inherited.fd, address: actual, type: "stream", method: "native" };
  }
  let path: string | undefined;
  if (!server.listening) {
    path = temporarySocketPath();
    const where = ephemeralAddress(inherited, path);
    await onceListening(server, () => server.listen(listenOptions(where)));
  }
  try {
    const address = nodeAddress(server.address())!;
    return await withFallback(
      mode,
      () => transplant(inherited, address),
      () => startForwarder(inherited, address, openSocketStream).socket,
      () => closeNodeObject(server),
    );
  } finally {
    if (path !== undefined && mode !== "fallback") removeSocketPath(path);
  }
}

async function adoptDgram(
  socket: dgramModule.Socket,
  inherited: FdDescription,
  mode: AdoptMode,
): Promise<AdoptedSocket> {
  let address: SocketAddress | undefined;
  try {
    address = nodeAddress(socket.address());
  } catch {
    // ERR_SOCKET_DGRAM_NOT_RUNNING: not bound yet; bind it to the inherited socket's family.
    const where = ephemeralAddress(inherited, "");
    if (where.family === "unix") {
      throw new HandoverError(
        "EAFNOSUPPORT",
        `fd ${inherited.fd} is a unix datagram socket; node:dgram has no unix sockets`,
      );
    }
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind({ address: (where as { address: string }).address, port: 0 }, () => {
        socket.off("error", reject);
        resolve();
      });
    });
    address = nodeAddress(socket.address());
  }
  if (mode === "fallback") {
    throw new HandoverError("ENOTSUP", "Datagram sockets have no fallback: adoption is the only way to serve them");
  }
  return await withFallback(
    "adopt",
    () => transplant(inherited, address!),
    () => never(),
    () => closeNodeObject(socket),
  );
}

function never(): never {
  throw new HandoverError("ENOTSUP", "No fallback");
}

/**
 * Makes a `node:net`/`node:http` server or a `node:dgram` socket serve an
 * inherited socket.
 *
 * @param server The server.
 * @param inherited The socket.
 * @param mode The mode.
 * @returns Where it is served.
 */
export function adoptNodeObject(server: unknown, inherited: FdDescription, mode: AdoptMode): Promise<AdoptedSocket> {
  if (isNetServer(server)) return adoptNetServer(server, inherited, mode);
  if (server instanceof dgram().Socket) return adoptDgram(server, inherited, mode);
  throw new TypeError("Expected a node:net server or a node:dgram socket");
}

/**
 * Closes a `node:net` server or `node:dgram` socket.
 *
 * @param server The server.
 */
export function closeNodeObject(server: unknown): Promise<void> {
  return new Promise((resolve) => {
    if (isNetServer(server)) {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      (server as netModule.Server & { closeAllConnections?(): void }).closeAllConnections?.();
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

function handleOf(server: httpModule.Server, socket: ServerHandle["socket"]): ServerHandle {
  let finishedResolve!: () => void;
  const finished = new Promise<void>((resolve) => finishedResolve = resolve);
  server.once("close", () => finishedResolve());
  return {
    socket,
    finished,
    close: async () => {
      await closeNodeObject(server);
      await finished;
    },
  };
}

/**
 * Serves a fetch handler with `node:http` on an inherited socket:
 * `listen({ fd })` where it works, adoption in Bun.
 *
 * @param handler The handler.
 * @param inherited The socket.
 * @returns The running server.
 */
export async function serveNodeHttp(handler: FetchHandler, inherited: FdDescription): Promise<ServerHandle> {
  const server = http().createServer(await requestListener(handler));
  const adopted = await adoptNetServer(server, inherited, "adopt");
  const method = !("Deno" in globalThis) && !("Bun" in globalThis) ? adopted.method : "node-http";
  return handleOf(server, { address: adopted.address, method });
}

/** What kind of server a value is (this adapter's entry point). */
export const kindOf: (server: unknown) => ServerKind | undefined = nodeKindOf;

/** Stops a server (this adapter's entry point). */
export const closeServer: (server: unknown) => Promise<void> = closeNodeObject;

/** Makes a server serve an inherited socket (this adapter's entry point). */
export const adopt: (server: unknown, inherited: FdDescription, mode: AdoptMode) => Promise<AdoptedSocket> =
  adoptNodeObject;

/**
 * Serves a handler on an inherited socket with `node:http` `listen({ fd })`.
 *
 * @param handler The handler.
 * @param inherited The socket.
 * @param _mode Unused: Node's native path always works.
 * @returns The running server.
 */
export function serveInherited(
  handler: FetchHandler,
  inherited: FdDescription,
  _mode: AdoptMode,
): Promise<ServerHandle> {
  return serveNodeHttp(handler, inherited);
}

/**
 * Serves a handler on a port with `node:http`.
 *
 * @param handler The handler.
 * @param hostname The address.
 * @param port The port.
 * @returns The running server.
 */
export async function serveAddress(handler: FetchHandler, hostname: string, port: number): Promise<ServerHandle> {
  const server = http().createServer(await requestListener(handler));
  await onceListening(server, () => server.listen(port, hostname));
  return handleOf(server, { address: nodeAddress(server.address())!, method: "direct" });
}
