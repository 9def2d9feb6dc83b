/**
 * Serving in Deno: `Deno.serve()` servers and `Deno.listen()` listeners
 * adopt inherited sockets (SPEC §2.1; they take no fd, deno#14006), and
 * `node:net`/`node:http`/`node:dgram` objects go through the Node adapter
 * (`listen({ fd })` works in Deno's Node compatibility). The fallback for a
 * handler is `node:http` `listen({ fd })` with srvx.
 *
 * @module
 */

import {
  type AdoptedSocket,
  ephemeralAddress,
  removeSocketPath,
  type ServerKind,
  temporarySocketPath,
  transplant,
} from "../src/adopt.ts";
import type { FdDescription } from "../src/inspect.ts";
import { startForwarder } from "../src/proxy.ts";
import { openSocketStream } from "./node_stream.ts";
import type { AdoptMode, FetchHandler, ServerHandle } from "../src/backend.ts";
import type { SocketAddress } from "../src/structs.ts";
import { looksLikeNodeObject, withFallback } from "./serve_common.ts";

// node:net/http/dgram objects go to the Node adapter, loaded only for them (node:http is slow to load).
const nodeAdapter = (): Promise<typeof import("./node_serve.ts")> => import("./node_serve.ts");

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
 * @returns The kind, or undefined.
 */
export function kindOf(server: unknown): ServerKind | undefined {
  if (isHttpServer(server)) return "http";
  if (isListener(server)) return "stream";
  return looksLikeNodeObject(server);
}

/**
 * Stops a server.
 *
 * @param server A server {@link kindOf} knows.
 */
export async function closeServer(server: unknown): Promise<void> {
  if (isHttpServer(server)) return await server.shutdown();
  if (isListener(server)) {
    try {
      server.close();
    } catch { /* closed already */ }
    return;
  }
  await (await nodeAdapter()).closeNodeObject(server);
}

/**
 * Makes a server serve an inherited socket.
 *
 * @param server The server.
 * @param inherited The inherited socket.
 * @param mode The mode.
 * @returns Where it is served.
 */
export async function adopt(server: unknown, inherited: FdDescription, mode: AdoptMode): Promise<AdoptedSocket> {
  if (!isHttpServer(server) && !isListener(server)) {
    return (await nodeAdapter()).adoptNodeObject(server, inherited, mode);
  }
  const address = toSocketAddress(server.addr);
  return await withFallback(
    mode,
    () => transplant(inherited, address),
    () => startForwarder(inherited, address, openSocketStream).socket,
    () => closeServer(server),
  );
}

function handleOf(server: DenoServer, socket: ServerHandle["socket"]): ServerHandle {
  return { socket, finished: server.finished, close: () => server.shutdown() };
}

/**
 * Serves a handler on an inherited socket with `Deno.serve`, or with
 * `node:http` `listen({ fd })` as the fallback.
 *
 * @param handler The handler.
 * @param inherited The socket.
 * @param mode The mode.
 * @returns The running server.
 */
export async function serveInherited(
  handler: FetchHandler,
  inherited: FdDescription,
  mode: AdoptMode,
): Promise<ServerHandle> {
  if (mode === "fallback") return await (await nodeAdapter()).serveNodeHttp(handler, inherited);
  const path = temporarySocketPath();
  const ephemeral = ephemeralAddress(inherited, path);
  const server = ephemeral.family === "unix"
    ? Deno.serve({ path, transport: "unix", onListen() {} }, handler)
    : Deno.serve({ hostname: (ephemeral as { address: string }).address, port: 0, onListen() {} }, handler);
  try {
    const socket = await transplant(inherited, toSocketAddress(server.addr));
    return handleOf(server, socket);
  } catch (error) {
    await server.shutdown();
    if (mode === "auto" && (error as { code?: string }).code === "ENOTSUP") {
      return await (await nodeAdapter()).serveNodeHttp(handler, inherited);
    }
    throw error;
  } finally {
    removeSocketPath(path);
  }
}

/**
 * Serves a handler on a port with `Deno.serve`.
 *
 * @param handler The handler.
 * @param hostname The address.
 * @param port The port.
 * @returns The running server.
 */
export function serveAddress(handler: FetchHandler, hostname: string, port: number): Promise<ServerHandle> {
  const server = Deno.serve({ hostname, port, onListen() {} }, handler);
  return Promise.resolve(handleOf(server, { address: toSocketAddress(server.addr), method: "direct" }));
}
