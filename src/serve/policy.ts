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
import type { AdoptedSocket, AdoptMode, FdDescription, FetchHandler, ServeAdapter, ServedSocket } from "../types.ts";
import { startForwarder } from "./proxy.ts";
import { ephemeralAddress, removeSocketPath, temporarySocketPath, transplant } from "./transplant.ts";

/** A running server for a handler, as `serve()` keeps it. */
export interface ServerHandle {
  readonly socket: ServedSocket;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
  /** Stops accepting, lets running requests end, releases the socket. */
  close(): Promise<void>;
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
interface Adoption {
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
  if (address === undefined && adapter.listenFd !== undefined && mode !== "fallback") {
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

function handleOf(
  adapter: ServeAdapter,
  server: unknown,
  socket: ServedSocket,
  stopForwarder?: () => void,
): ServerHandle {
  let closed!: () => void;
  const whenClosed = new Promise<void>((resolve) => closed = resolve);
  return {
    socket,
    finished: adapter.finished?.(server) ?? whenClosed,
    close: async () => {
      stopForwarder?.();
      await adapter.close(server, false);
      closed();
      await adapter.finished?.(server);
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
 * @returns The running server.
 */
export async function serveInherited(
  adapter: ServeAdapter,
  handler: FetchHandler,
  inherited: FdDescription,
  mode: AdoptMode,
): Promise<ServerHandle> {
  const fallback = adapter.fallbackAdapter;
  if (fallback !== undefined && mode === "fallback") return await serveByFallback(await fallback(), handler, inherited);
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
    return handleOf(adapter, server, socket, stopForwarder);
  } catch (error) {
    if (fallback !== undefined && mode === "auto" && codeOf(error) === "ENOTSUP") {
      return await serveByFallback(await fallback(), handler, inherited);
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
): Promise<ServerHandle> {
  const server = await adapter.createServer(handler, undefined);
  const { socket } = await putOnSocket(adapter, server, inherited, "adopt");
  return handleOf(adapter, server, { address: socket.address, method: "node-http" });
}

/**
 * Serves a fetch handler on an address of its own (the process was started directly).
 *
 * @param adapter This runtime's adapter.
 * @param handler The handler.
 * @param hostname The address.
 * @param port The port.
 * @returns The running server.
 */
export async function serveDirect(
  adapter: ServeAdapter,
  handler: FetchHandler,
  hostname: string,
  port: number,
): Promise<ServerHandle> {
  const family = hostname.includes(":") ? "inet6" : "inet";
  const server = await adapter.createServer(handler, { family, address: hostname, port });
  return handleOf(adapter, server, { address: adapter.addressOf(server)!, method: "direct" });
}
