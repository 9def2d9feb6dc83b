/**
 * Bun's serving adapter: `Bun.serve()`, `Bun.listen()` and `Bun.udpSocket()`
 * take no fd, so each is created on an ephemeral address and adopts the
 * inherited socket (SPEC §2.1). `node:net`/`node:http` objects go to the Node
 * adapter, which adopts too (Bun's `listen({ fd })` binds a random port
 * instead, bun#22559). Where adoption cannot run, the fallback is the core's
 * forwarder, with `Bun.connect({ fd })` streams.
 *
 * @module
 */

import { looksLikeNodeObject } from "../../src/serve/policy.ts";
import type { FetchHandler, ServeAdapter, ServerKind, SocketAddress } from "../../src/types.ts";

export { openSocketStream } from "./stream.ts";

// node:net/http/dgram objects go to the Node adapter, loaded only for them (node:http is slow to load).
const nodeAdapter = (): Promise<ServeAdapter> => import("../node/serve.ts");

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

function addressOfServer(server: BunHttpServer | BunListener | BunUdpSocket): SocketAddress {
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
  if (isHttpServer(server)) return "http";
  if (isUdpSocket(server)) return "dgram";
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
  return addressOfServer(server as BunHttpServer | BunListener | BunUdpSocket);
}

/**
 * Stops a server.
 *
 * @param server A server {@link kindOf} knows.
 * @param force Close its connections too (after a failed adoption).
 */
export async function close(server: unknown, force: boolean): Promise<void> {
  if (isUdpSocket(server)) return server.close();
  if (isHttpServer(server) || isListener(server)) await server.stop(force);
}

/**
 * A `Bun.serve()` server on an address.
 *
 * @param handler The handler.
 * @param address Where to listen (required: Bun's servers take no fd).
 * @returns The server.
 */
export function createServer(handler: FetchHandler, address: SocketAddress | undefined): Promise<unknown> {
  return Promise.resolve(Bun.serve(
    address?.family === "unix" ? { unix: address.path, fetch: handler } : {
      hostname: (address as { address: string }).address,
      port: (address as { port: number }).port,
      fetch: handler,
    },
  ));
}
