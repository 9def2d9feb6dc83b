/**
 * Serving in Bun: `Bun.serve()`, `Bun.listen()` and `Bun.udpSocket()` take
 * no fd, so each is created on an ephemeral address and adopts the inherited
 * socket (SPEC §2.1). `node:net`/`node:http` servers too: Bun's
 * `listen({ fd })` binds a random port instead (bun#22559). Where adoption
 * cannot run, the fallback is an FFI accept loop that hands each connection
 * to `Bun.connect({ fd })` and forwards it to the server.
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
import { openSocketStream } from "./bun_stream.ts";
import type { AdoptMode, FetchHandler, ServerHandle } from "../src/backend.ts";
import type { SocketAddress } from "../src/structs.ts";
import { looksLikeNodeObject, withFallback } from "./serve_common.ts";

// node:net/http/dgram objects go to the Node adapter, loaded only for them (node:http is slow to load).
const nodeAdapter = (): Promise<typeof import("./node_serve.ts")> => import("./node_serve.ts");

/** The parts of Bun's server objects this adapter uses (typed here so that every checker reads this file). */
interface BunHttpServer {
  readonly port?: number;
  readonly hostname?: string;
  readonly url: URL;
  fetch(request: Request): unknown;
  stop(closeActiveConnections?: boolean): Promise<void> | void;
}

interface BunListener {
  readonly port?: number;
  readonly hostname?: string;
  readonly unix?: string;
  stop(closeActiveConnections?: boolean): void;
  reload(options: unknown): void;
}

interface BunUdpSocket {
  readonly address: { address: string; family: string; port: number };
  send(data: Uint8Array, port: number, address: string): boolean;
  close(): void;
  readonly closed: boolean;
}

interface BunServing {
  serve(options: {
    hostname?: string;
    port?: number;
    unix?: string;
    fetch: FetchHandler;
  }): BunHttpServer;
}

const Bun = (globalThis as unknown as { Bun: BunServing }).Bun;

function isHttpServer(value: unknown): value is BunHttpServer {
  const v = value as Partial<BunHttpServer> | null;
  return typeof v === "object" && v !== null && typeof v.fetch === "function" && typeof v.stop === "function" &&
    v.url instanceof URL;
}

function isListener(value: unknown): value is BunListener {
  const v = value as Partial<BunListener> | null;
  return typeof v === "object" && v !== null && typeof v.stop === "function" && typeof v.reload === "function" &&
    !("fetch" in v) && !(typeof (v as { then?: unknown }).then === "function");
}

function isUdpSocket(value: unknown): value is BunUdpSocket {
  const v = value as Partial<BunUdpSocket> | null;
  return typeof v === "object" && v !== null && typeof v.send === "function" && typeof v.close === "function" &&
    typeof v.closed === "boolean" && typeof v.address === "object";
}

function ipAddress(hostname: string, port: number): SocketAddress {
  const bare = hostname.replace(/^\[|\]$/g, "");
  return bare.includes(":") ? { family: "inet6", address: bare, port } : { family: "inet", address: bare, port };
}

function addressOf(server: BunHttpServer | BunListener | BunUdpSocket): SocketAddress {
  if (isUdpSocket(server)) return ipAddress(server.address.address, server.address.port);
  if (isHttpServer(server)) {
    if (server.url.protocol === "unix:") return { family: "unix", path: decodeURIComponent(server.url.pathname) };
    return ipAddress(server.hostname ?? server.url.hostname, server.port ?? Number(server.url.port));
  }
  if (server.unix !== undefined) return { family: "unix", path: server.unix };
  return ipAddress(server.hostname ?? "", server.port ?? 0);
}

/**
 * What kind of server a value is.
 *
 * @param server The value.
 * @returns The kind, or undefined.
 */
export function kindOf(server: unknown): ServerKind | undefined {
  const node = looksLikeNodeObject(server);
  if (node !== undefined) return node;
  if (isHttpServer(server)) return "http";
  if (isUdpSocket(server)) return "dgram";
  if (isListener(server)) return "stream";
  return undefined;
}

/**
 * Stops a server.
 *
 * @param server A server {@link kindOf} knows.
 */
export async function closeServer(server: unknown): Promise<void> {
  if (looksLikeNodeObject(server) !== undefined) return await (await nodeAdapter()).closeNodeObject(server);
  if (isUdpSocket(server)) return server.close();
  if (isHttpServer(server) || isListener(server)) await server.stop(true);
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
  if (looksLikeNodeObject(server) !== undefined) return (await nodeAdapter()).adoptNodeObject(server, inherited, mode);
  const target = server as BunHttpServer | BunListener | BunUdpSocket;
  const address = addressOf(target);
  return await withFallback(
    isUdpSocket(target) && mode === "auto" ? "adopt" : mode,
    () => transplant(inherited, address),
    () => startForwarder(inherited, address, openSocketStream).socket,
    () => closeServer(server),
  );
}

/**
 * Serves a handler on an inherited socket with `Bun.serve`.
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
  const path = temporarySocketPath();
  const ephemeral = ephemeralAddress(inherited, path);
  const server = Bun.serve(
    ephemeral.family === "unix"
      ? { unix: path, fetch: handler }
      : { hostname: (ephemeral as { address: string }).address, port: 0, fetch: handler },
  );
  const address = addressOf(server);
  let forwarder: ReturnType<typeof startForwarder> | undefined;
  const socket = await withFallback(
    mode,
    () => transplant(inherited, address),
    () => (forwarder = startForwarder(inherited, address, openSocketStream)).socket,
    async () => {
      await server.stop(true);
    },
  );
  if (forwarder === undefined) removeSocketPath(path);
  return handleOf(server, socket, () => forwarder?.stop());
}

function handleOf(server: BunHttpServer, socket: ServerHandle["socket"], also: () => void = () => {}): ServerHandle {
  let finishedResolve!: () => void;
  const finished = new Promise<void>((resolve) => finishedResolve = resolve);
  return {
    socket,
    finished,
    close: async () => {
      also();
      await server.stop();
      finishedResolve();
    },
  };
}

/**
 * Serves a handler on a port with `Bun.serve`.
 *
 * @param handler The handler.
 * @param hostname The address.
 * @param port The port.
 * @returns The running server.
 */
export function serveAddress(handler: FetchHandler, hostname: string, port: number): Promise<ServerHandle> {
  const server = Bun.serve({ hostname, port, fetch: handler });
  return Promise.resolve(handleOf(server, { address: addressOf(server), method: "direct" }));
}
