/**
 * The serving sequence, written once for every runtime: put a server on an
 * inherited socket — the runtime's own `listen({ fd })` where it has one,
 * else adoption (SPEC §2.1), else a fallback — and close the server when
 * that fails. The runtime adapters (`runtimes/<name>/serve.ts`) only answer
 * questions about their server objects ({@link ServeAdapter}).
 *
 * @module
 */

import { localAddress } from "../fd/socket.ts";
import { HandoverError } from "../sys/errors.ts";
import type {
  AdoptedSocket,
  AdoptMode,
  FdDescription,
  FetchHandler,
  RequestCounts,
  ServeAdapter,
  ServedSocket,
  SocketAddress,
} from "../types.ts";
import { type Draining, drainServer, type DrainTimes } from "./drain.ts";
import { startForwarder } from "./proxy.ts";
import { ephemeralAddress, removeSocketPath, temporarySocketPath, transplant } from "./transplant.ts";

/** A running server for a handler, as `serve()` keeps it. */
export interface ServerHandle {
  readonly socket: ServedSocket;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
  /** Drains: stops accepting, lets accepted connections be answered, releases the socket. */
  close(times?: DrainTimes): Promise<void>;
}

/** The `node:net`/`node:http`/`node:dgram` objects the Node adapter handles, told apart without importing them. */
export function looksLikeNodeObject(server: unknown): "stream" | "dgram" | undefined {
  const v = server as Record<string, unknown> | null;
  if (typeof v !== "object" || v === null || typeof v.on !== "function" || typeof v.address !== "function") {
    return undefined;
  }
  if (typeof v.listen === "function" && typeof v.getConnections === "function") return "stream";
  if (typeof v.bind === "function" && typeof v.send === "function" && typeof v.addMembership === "function") {
    return "dgram";
  }
  return undefined;
}

/**
 * The adapter that handles `server`: this runtime's, or the one it delegates to.
 *
 * @param adapter This runtime's adapter.
 * @param server The server.
 * @returns The adapter to ask about it.
 */
export async function adapterFor(adapter: ServeAdapter, server: unknown): Promise<ServeAdapter> {
  return (await adapter.delegate?.(server)) ?? adapter;
}

const codeOf = (error: unknown): string | undefined => (error as { code?: string } | null)?.code;

/** An adopted socket, and the forwarder serving it when that was the fallback. */
export interface Adoption {
  readonly socket: AdoptedSocket;
  readonly stopForwarder?: () => void;
}

/**
 * Puts a server on an inherited socket: its runtime's own `listen({ fd })`
 * when it is not listening yet and the runtime has one; else adoption, with
 * the mode's fallback (`auto`: a forwarder when adoption cannot run here,
 * `ENOTSUP`; `fallback`: the forwarder only). Any failure closes the server.
 *
 * @param adapter The adapter of the server (see {@link adapterFor}).
 * @param server The server.
 * @param inherited The inherited socket, checked with `checkServable()`.
 * @param mode The mode.
 * @returns Where and how it is served now.
 */
export async function putOnSocket(
  adapter: ServeAdapter,
  server: unknown,
  inherited: FdDescription,
  mode: AdoptMode,
): Promise<Adoption> {
  const kind = adapter.kindOf(server);
  if (kind === "dgram") {
    if (mode === "fallback") {
      await adapter.close(server, true).catch(() => {});
      throw new HandoverError("ENOTSUP", "Datagram sockets have no fallback: adoption is the only way to serve them");
    }
    mode = "adopt";
  }
  let address = adapter.addressOf(server);
  if (address === undefined && kind !== "dgram" && adapter.listenFd !== undefined && mode !== "fallback") {
    return { socket: await listenNatively(adapter, server, inherited) };
  }
  let path: string | undefined;
  let forwarding = false;
  try {
    if (address === undefined) {
      path = temporarySocketPath();
      await adapter.listen!(server, ephemeralAddress(inherited, path));
      address = adapter.addressOf(server)!;
    }
    const serverAddress = address;
    const forward = (): Adoption => {
      forwarding = true;
      const forwarder = startForwarder(inherited, serverAddress, adapter.openSocketStream);
      return { socket: forwarder.socket, stopForwarder: forwarder.stop };
    };
    if (mode === "fallback") return forward();
    try {
      return { socket: await transplant(inherited, serverAddress) };
    } catch (error) {
      if (mode === "auto" && codeOf(error) === "ENOTSUP") return forward();
      throw error;
    }
  } catch (error) {
    await adapter.close(server, true).catch(() => {});
    throw error;
  } finally {
    // The forwarder connects to the server's temporary socket; adoption replaced it.
    if (path !== undefined && !forwarding) removeSocketPath(path);
  }
}

/** The runtime's own `listen({ fd })`, verified: the server must listen where the inherited socket does. */
async function listenNatively(
  adapter: ServeAdapter,
  server: unknown,
  inherited: FdDescription,
): Promise<AdoptedSocket> {
  try {
    await adapter.listenFd!(server, inherited.fd);
    const now = adapter.addressOf(server);
    const actual = localAddress(inherited.fd);
    if (
      now !== undefined && now.family !== "unix" && actual.family !== "unix" && "port" in now && "port" in actual &&
      now.port !== actual.port
    ) {
      throw new HandoverError("EIO", `listen({ fd: ${inherited.fd} }) listens on port ${now.port}, not ${actual.port}`);
    }
    return { fd: inherited.fd, address: actual, type: inherited.type as "stream", method: "native" };
  } catch (error) {
    await adapter.close(server, true).catch(() => {});
    throw error;
  }
}

/**
 * How to drain a server on one socket: stop accepting (detach the listening
 * fd, or stop the forwarder), then the adapter's graceful close.
 *
 * @param adapter The server's adapter.
 * @param server The server.
 * @param socket Where it listens; `fd` is left out for a port of its own (nothing shared to detach).
 * @param stopForwarder Stops the forwarder serving the socket, if one does.
 * @param requests The server's requests, when its handler is ours.
 * @returns What `drainServer()` needs.
 */
export function drainingOf(
  adapter: ServeAdapter,
  server: unknown,
  socket: { readonly fd?: number; readonly address: SocketAddress },
  stopForwarder?: () => void,
  requests?: RequestCounts,
): Draining {
  return {
    fd: socket.fd,
    address: socket.address,
    stopForwarder,
    requests: requests ?? adapter.trackRequests?.(server),
    closeGracefully: async () => {
      await adapter.close(server, false);
      await adapter.finished?.(server);
    },
    closeNow: () => adapter.close(server, true),
  };
}

function handleOf(adapter: ServeAdapter, server: unknown, socket: ServedSocket, draining: Draining): ServerHandle {
  let closed!: () => void;
  const whenClosed = new Promise<void>((resolve) => closed = resolve);
  let closing: Promise<void> | undefined;
  return {
    socket,
    finished: adapter.finished?.(server) ?? whenClosed,
    close: (times) => {
      closing ??= drainServer(draining, times).finally(() => closed());
      return closing;
    },
  };
}

/**
 * Serves a fetch handler on an inherited stream socket with the runtime's
 * own server: natively where the runtime can take an fd, else a server on an
 * ephemeral address that adopts the socket, else the runtime's fallback (its
 * fallback adapter's native way, or a forwarder).
 *
 * @param adapter This runtime's adapter.
 * @param handler The handler.
 * @param inherited The socket.
 * @param mode The mode.
 * @param requests The handler's requests, counted.
 * @returns The running server.
 */
export async function serveInherited(
  adapter: ServeAdapter,
  handler: FetchHandler,
  inherited: FdDescription,
  mode: AdoptMode,
  requests?: RequestCounts,
): Promise<ServerHandle> {
  const fallback = adapter.fallbackAdapter;
  if (fallback !== undefined && mode === "fallback") {
    return await serveByFallback(await fallback(), handler, inherited, requests);
  }
  let path: string | undefined;
  let server: unknown;
  if (adapter.listenFd !== undefined && mode !== "fallback") {
    server = await adapter.createServer(handler, undefined);
  } else {
    path = temporarySocketPath();
    server = await adapter.createServer(handler, ephemeralAddress(inherited, path));
  }
  let forwarding = false;
  try {
    const { socket, stopForwarder } = await putOnSocket(adapter, server, inherited, fallback ? "adopt" : mode);
    forwarding = stopForwarder !== undefined;
    return handleOf(adapter, server, socket, drainingOf(adapter, server, socket, stopForwarder, requests));
  } catch (error) {
    if (fallback !== undefined && mode === "auto" && codeOf(error) === "ENOTSUP") {
      return await serveByFallback(await fallback(), handler, inherited, requests);
    }
    throw error;
  } finally {
    // A forwarder connects to the server's temporary socket; adoption replaced it.
    if (path !== undefined && !forwarding) removeSocketPath(path);
  }
}

async function serveByFallback(
  adapter: ServeAdapter,
  handler: FetchHandler,
  inherited: FdDescription,
  requests?: RequestCounts,
): Promise<ServerHandle> {
  const server = await adapter.createServer(handler, undefined);
  const { socket } = await putOnSocket(adapter, server, inherited, "adopt");
  const served = { address: socket.address, method: "node-http" } as const;
  return handleOf(adapter, server, served, drainingOf(adapter, server, socket, undefined, requests));
}

/**
 * Serves a fetch handler on an address of its own (the process was started directly).
 *
 * @param adapter This runtime's adapter.
 * @param handler The handler.
 * @param hostname The address.
 * @param port The port.
 * @param requests The handler's requests, counted.
 * @returns The running server.
 */
export async function serveDirect(
  adapter: ServeAdapter,
  handler: FetchHandler,
  hostname: string,
  port: number,
  requests?: RequestCounts,
): Promise<ServerHandle> {
  const family = hostname.includes(":") ? "inet6" : "inet";
  const server = await adapter.createServer(handler, { family, address: hostname, port });
  const address = adapter.addressOf(server)!;
  return handleOf(
    adapter,
    server,
    { address, method: "direct" },
    drainingOf(adapter, server, { address }, undefined, requests),
  );
}
