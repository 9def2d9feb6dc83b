/**
 * The fallback where adoption cannot run (no epoll: macOS kqueue, an event
 * loop handover does not know): an accept loop on the inherited socket,
 * through FFI, that connects each accepted connection to the server's own
 * address and copies bytes both ways with the runtime's own sockets
 * (`Bun.connect({ fd })` in Bun, `node:net` in Node and Deno). It works with
 * any server, at the cost of a second connection and a copy per request.
 *
 * @module
 */

import type { AdoptedSocket } from "./transplant.ts";
import type { SocketStream } from "../types.ts";
import { close, isReady, setNonBlocking } from "../fd/fd.ts";
import type { FdDescription } from "../fd/inspect.ts";
import { acceptConnection, connectSocket, formatAddress, getIntOption, openSocket } from "../fd/socket.ts";
import type { SocketAddress } from "../sys/../types.ts";
import { system } from "../ffi/system.ts";
import { HandoverError } from "../sys/errors.ts";
import { errnoName } from "../sys/errno.ts";

/** A running forwarder. */
export interface Forwarder {
  readonly socket: AdoptedSocket;
  /** Stops accepting and closes the inherited socket (open connections finish). */
  stop(): void;
  /** Resolves when the loop has stopped. */
  readonly finished: Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function connectTo(target: SocketAddress): Promise<number> {
  const fd = openSocket(target.family as "inet" | "inet6" | "unix", "stream");
  try {
    if (!connectSocket(fd, target)) {
      for (let delay = 0; !isReady(fd, "writable"); delay = Math.min(delay * 2 || 1, 20)) await sleep(delay);
      const { c, os } = system();
      const code = getIntOption(fd, c.SOL_SOCKET, c.SO_ERROR);
      if (code !== 0) {
        const name = errnoName(os, code);
        throw new HandoverError(name, `connect() to ${formatAddress(target)} failed with ${name}`, {
          errno: code,
          syscall: "connect",
        });
      }
    }
    return fd;
  } catch (error) {
    close(fd);
    throw error;
  }
}

/** Wraps a connected socket fd as streams: the runtime's own `openSocketStream`. */
export type OpenStream = (fd: number) => Promise<SocketStream>;

async function forward(client: number, target: SocketAddress, openStream: OpenStream): Promise<boolean> {
  let upstreamFd: number;
  try {
    upstreamFd = await connectTo(target);
  } catch (error) {
    close(client);
    const code = (error as HandoverError).code;
    // The server is gone: the forwarder ends with it.
    return !(code === "ECONNREFUSED" || code === "ENOENT");
  }
  const [a, b] = await Promise.all([openStream(client), openStream(upstreamFd)]);
  void Promise.allSettled([a.readable.pipeTo(b.writable), b.readable.pipeTo(a.writable)]).then(() =>
    Promise.allSettled([a.close(), b.close()])
  );
  return true;
}

/**
 * Starts forwarding connections from the inherited listening socket to a
 * server's own address. The inherited fd belongs to the forwarder from now on.
 *
 * @param inherited The inherited listening stream socket.
 * @param target The server's own address.
 * @param openStream The runtime's socket-stream adapter (`runtimes/*_stream.ts`).
 * @returns The running forwarder; it stops by itself when the server stops accepting.
 *
 * @example Forward a listening socket's connections to a Deno.serve server
 * ```ts
 * import { createListener, describeFd, openSocketStream } from "../../mod.ts";
 * import { startForwarder } from "./proxy.ts";
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response("hello"));
 * const inherited = describeFd(createListener({ port: 0 })); // stands in for the socket systemd passes
 * const target = { family: "inet", address: "127.0.0.1", port: server.addr.port } as const;
 * const forwarder = startForwarder(inherited, target, openSocketStream);
 * const { port } = forwarder.socket.address as { port: number }; // the inherited socket's port
 * await (await fetch(`http://127.0.0.1:${port}/`)).text(); // "hello", through a second connection to the server
 * forwarder.stop();
 * await forwarder.finished; // the loop has closed the inherited fd
 * await server.shutdown();
 * ```
 */
export function startForwarder(inherited: FdDescription, target: SocketAddress, openStream: OpenStream): Forwarder {
  let stopped = false;
  // Inherited sockets are usually blocking; accept() must never block the event loop.
  setNonBlocking(inherited.fd, true);
  const loop = async () => {
    let delay = 0;
    try {
      while (!stopped) {
        const client = acceptConnection(inherited.fd);
        if (client === undefined) {
          // Poll with a short back-off: no runtime lets FFI code wait on an fd in its event loop.
          await sleep(delay);
          delay = Math.min(delay * 2 || 1, 10);
          continue;
        }
        delay = 0;
        if (!(await forward(client, target, openStream))) stopped = true;
      }
    } finally {
      close(inherited.fd);
    }
  };
  const finished = loop();
  return {
    socket: { fd: inherited.fd, address: inherited.address!, type: "stream", method: "proxy" },
    stop() {
      stopped = true;
    },
    finished,
  };
}
