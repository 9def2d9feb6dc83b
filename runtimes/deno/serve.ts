/**
 * Deno's serving adapter: `Deno.serve()` servers and `Deno.listen()`
 * listeners (they take no fd, deno#14006, so they adopt inherited sockets,
 * SPEC §2.1). `node:net`/`node:http`/`node:dgram` objects go to the Node
 * adapter, whose `listen({ fd })` works in Deno's Node compatibility; it is
 * also the fallback for a handler (`node:http`).
 *
 * @module
 */

import { looksLikeNodeObject } from "../../src/serve/policy.ts";
import type { FetchHandler, ServeAdapter, ServerKind, SocketAddress, SocketStream } from "../../src/types.ts";

/**
 * Wraps a connected socket as streams with Deno's Node compatibility (`node:net`), loaded only here, at the
 * first call: importing it at start-up would load that layer (about 13 ms) into every adopting server.
 *
 * @param fd A connected stream socket.
 * @returns The streams.
 */
export async function openSocketStream(fd: number): Promise<SocketStream> {
  return await (await import("../node/stream.ts")).openSocketStream(fd);
}

// node:net/http/dgram objects go to the Node adapter, loaded only for them (node:http is slow to load).
const nodeAdapter = (): Promise<ServeAdapter> => import("../node/serve.ts");

type DenoServer = Deno.HttpServer<Deno.Addr>;

function isHttpServer(value: unknown): value is DenoServer {
  const v = value as Partial<DenoServer> | null;
  return typeof v === "object" && v !== null && typeof v.shutdown === "function" && v.finished instanceof Promise &&
    typeof v.addr === "object";
}

function isListener(value: unknown): value is Deno.Listener {
  const v = value as Partial<Deno.Listener> | null;
  return typeof v === "object" && v !== null && typeof v.accept === "function" && typeof v.close === "function" &&
    typeof v.addr === "object";
}

function toSocketAddress(addr: Deno.Addr): SocketAddress {
  if (addr.transport === "unix" || addr.transport === "unixpacket") return { family: "unix", path: addr.path ?? "" };
  if (addr.transport === "tcp" || addr.transport === "udp") {
    return addr.hostname.includes(":")
      ? { family: "inet6", address: addr.hostname, port: addr.port }
      : { family: "inet", address: addr.hostname, port: addr.port };
  }
  return { family: "other", code: -1 };
}

/**
 * What kind of server a value is.
 *
 * @param server The value.
 * @returns `http` for `Deno.serve()`, `stream` for `Deno.listen()`, undefined otherwise.
 */
export function kindOf(server: unknown): ServerKind | undefined {
  if (isHttpServer(server)) return "http";
  if (isListener(server)) return "stream";
  return undefined;
}

/**
 * The Node adapter, for `node:` objects.
 *
 * @param server The value.
 * @returns The Node adapter, or undefined.
 */
export function delegate(server: unknown): Promise<ServeAdapter> | undefined {
  return looksLikeNodeObject(server) === undefined ? undefined : nodeAdapter();
}

/**
 * A server's address.
 *
 * @param server A server {@link kindOf} knows.
 * @returns Its address.
 */
export function addressOf(server: unknown): SocketAddress | undefined {
  return toSocketAddress((server as DenoServer | Deno.Listener).addr);
}

/**
 * Stops a server: `shutdown()` lets running requests end.
 *
 * @param server A server {@link kindOf} knows.
 * @param _force Unused: Deno's shutdown() closes the listening socket at once.
 */
export async function close(server: unknown, _force: boolean): Promise<void> {
  if (isHttpServer(server)) return await server.shutdown();
  try {
    (server as Deno.Listener).close();
  } catch { /* closed already */ }
}

/**
 * When a server has stopped.
 *
 * @param server A server {@link kindOf} knows.
 * @returns `server.finished` for `Deno.serve()`.
 */
export function finished(server: unknown): Promise<void> {
  return isHttpServer(server) ? server.finished : Promise.resolve();
}

/**
 * A `Deno.serve()` server on an address.
 *
 * @param handler The handler.
 * @param address Where to listen (required: Deno's servers take no fd).
 * @returns The server.
 */
export function createServer(handler: FetchHandler, address: SocketAddress | undefined): Promise<unknown> {
  if (address?.family === "unix") {
    return Promise.resolve(Deno.serve({ path: address.path, transport: "unix", onListen() {} }, handler));
  }
  const { address: hostname, port } = address as { address: string; port: number };
  return Promise.resolve(Deno.serve({ hostname, port, onListen() {} }, handler));
}

/**
 * The fallback for a handler: `node:http` `listen({ fd })`.
 *
 * @returns The Node adapter.
 */
export function fallbackAdapter(): Promise<ServeAdapter> {
  return nodeAdapter();
}
