/**
 * Draining a server before it stops, so that a restart drops nothing: stop
 * accepting on the listening socket this process shares with the launcher or
 * systemd — without touching that socket, which keeps queueing connections
 * for the next instance — then let every accepted connection be answered,
 * then close the server, all within a grace period.
 *
 * @module
 */

import { close, isReady } from "../fd/fd.ts";
import { bindSocket, listenSocket, localAddress, openSocket, peerAddress } from "../fd/socket.ts";
import { check, failure, system } from "../ffi/system.ts";
import { encodeEpollEvent } from "../sys/poll.ts";
import type { FetchHandler, RequestCounts, SocketAddress } from "../types.ts";
import { observeHandler } from "./handler.ts";
import { adoptionUnavailable, epollFds, openFdNumbers, registrationsOf, socketInode } from "./transplant.ts";

/** How long {@link drainServer} waits, in milliseconds. */
export interface DrainTimes {
  /**
   * The longest a drain takes: running requests and connections that were
   * accepted but have not sent their request yet get this long, then the
   * server is closed with whatever is left (default 5000: within the
   * launcher's 10 s stop timeout and systemd's 90 s `TimeoutStopSec=`).
   */
  readonly graceMs?: number;
  /**
   * How long accepted connections get to send their request before the
   * server's own graceful close, which in Deno and Node closes connections
   * that have not sent one (default 100; longer while one has unread bytes).
   */
  readonly settleMs?: number;
}

/** How long a drain may take unless told otherwise. */
export const DEFAULT_GRACE_MS = 5000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function sameAddress(a: SocketAddress, b: SocketAddress): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Stops this process from accepting on the listening socket at `fd`, which
 * it shares with the launcher or systemd, without touching that socket: takes
 * `fd` out of every epoll instance that waits on it and puts a private
 * listening socket of the same family in its place (registered as the old
 * one was), so that the runtime's own close later reaches only that one —
 * some runtimes shut a listening socket down before closing it, which would
 * end the shared socket for everybody. The shared socket's queue is left
 * whole for the next instance.
 *
 * @param fd The fd the server listens on.
 * @returns False where this cannot run (no epoll), and nothing changed.
 * @throws {HandoverError} The errno of epoll_ctl(2), socket(2) or dup3(2).
 *
 * @example Stop accepting, then close, and the shared socket stays open
 * ```ts
 * import { adopt, close, createListener, describeFd } from "../../mod.ts";
 * import { system } from "../ffi/system.ts";
 * import { detachListener } from "./drain.ts";
 * const { libc, c } = system();
 * const shared = createListener({ port: 0 }); // the socket systemd keeps
 * const passed = libc.fcntl(shared, c.F_DUPFD_CLOEXEC, 0); // its copy passed to the service
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response("hello"));
 * const { fd } = await adopt(server, passed, { drainOnSignal: false });
 * detachListener(fd); // true: fd is a private placeholder now, on another port
 * await server.shutdown(); // closes the placeholder only
 * describeFd(shared).listening; // true: connections wait there for the next instance
 * close(shared);
 * ```
 */
export function detachListener(fd: number): boolean {
  if (adoptionUnavailable() !== undefined) return false;
  const inode = socketInode(fd);
  if (inode === undefined) return false;
  const { libc, c, layout } = system();
  const registrations = registrationsOf(fd, inode, epollFds());
  const unused = encodeEpollEvent(layout, 0, 0n);
  for (const { epfd } of registrations) {
    const error = failure(libc.epoll_ctl(epfd, c.EPOLL_CTL_DEL, fd, unused), "epoll_ctl");
    if (error !== undefined && error.code !== "ENOENT") throw error;
  }
  const address = localAddress(fd);
  const family = address.family === "inet6" ? "inet6" : address.family === "unix" ? "unix" : "inet";
  const placeholder = openSocket(family, "stream", { nonBlocking: true });
  try {
    // An unnamed unix socket gets an autobind abstract name; an IP one a free loopback port.
    bindSocket(
      placeholder,
      family === "unix"
        ? { family: "unix", path: "" }
        : family === "inet6"
        ? { family: "inet6", address: "::1", port: 0 }
        : { family: "inet", address: "127.0.0.1", port: 0 },
    );
    listenSocket(placeholder, 1);
    check(libc.dup3(placeholder, fd, c.O_CLOEXEC), "dup3", `a placeholder onto the listening fd ${fd}`);
  } finally {
    close(placeholder);
  }
  for (const { epfd, events, data } of registrations) {
    const error = failure(
      libc.epoll_ctl(epfd, c.EPOLL_CTL_ADD, fd, encodeEpollEvent(layout, events, data)),
      "epoll_ctl",
    );
    if (error !== undefined && error.code !== "EEXIST") throw error;
  }
  return true;
}

/**
 * The connections this process accepted on `address` (sockets with a peer
 * whose local address is the listening socket's).
 *
 * @param address The listening socket's address.
 * @returns Their fds.
 */
function acceptedConnections(address: SocketAddress): number[] {
  const found: number[] = [];
  for (const fd of openFdNumbers()) {
    if (socketInode(fd) === undefined) continue;
    try {
      if (!sameAddress(localAddress(fd), address)) continue;
      peerAddress(fd);
      found.push(fd);
    } catch {
      // Not connected (the listening socket itself), or closed meanwhile.
    }
  }
  return found;
}

/** What {@link drainServer} needs to know about one served socket. */
export interface Draining {
  /** The fd the server listens on, or undefined when a forwarder serves it. */
  readonly fd: number | undefined;
  /** The listening socket's address (accepted connections share it). */
  readonly address: SocketAddress;
  /** Stops the forwarder that serves the socket, if one does. */
  readonly stopForwarder?: () => void;
  /** The server's own graceful close; resolves when it has stopped. */
  closeGracefully(): Promise<void>;
  /** Closes the server and its connections now. */
  closeNow(): Promise<void>;
  /** The server's requests, where they can be seen. */
  readonly requests?: RequestCounts;
}

/**
 * Requests a server is answering, as a wrapped handler or a request hook
 * sees them: lets a drain tell a keep-alive connection that is between
 * requests from one that is in the middle of one, and answer the next
 * request on each with `Connection: close`.
 */
export class RequestTracker implements RequestCounts {
  /** Requests being answered now. */
  inflight = 0;
  /** When the last request started (`Date.now()`). */
  lastStart = 0;
  /** True once a drain began: responses from then on close their connection. */
  draining = false;

  /**
   * Wraps a fetch handler to count its requests and, while draining, mark
   * each response `Connection: close`.
   *
   * @param handler The handler.
   * @returns The wrapped handler.
   */
  wrap(handler: FetchHandler): FetchHandler {
    const end = (): void => {
      this.inflight--;
    };
    return observeHandler(handler, () => {
      this.inflight++;
      this.lastStart = Date.now();
      return end;
    }, (response) => {
      if (!this.draining) return response;
      const closing = new Response(response.body, response);
      closing.headers.set("connection", "close");
      return closing;
    });
  }
}

// A connection that has been between requests this long while nothing is being answered is idle: a client that
// keeps sending has sent its next request by then.
const IDLE_MS = 250;

/**
 * Drains one served socket: stop accepting ({@link detachListener}, or stop
 * the forwarder), give accepted connections `settleMs` to send their
 * requests (longer while one has unread bytes, and, where requests are
 * tracked, while one is being answered or the last started less than 250 ms
 * ago), then the server's graceful close; whatever is still open after
 * `graceMs` is closed.
 *
 * @param served The socket and its server.
 * @param times The grace and settle periods.
 * @returns When the server has stopped.
 *
 * @example Drain a Deno.serve server that adopted a socket
 * ```ts
 * import { adopt, createListener } from "../../mod.ts";
 * import { drainServer } from "./drain.ts";
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response("hello"));
 * const { fd, address } = await adopt(server, createListener({ port: 0 }), { drainOnSignal: false });
 * await drainServer({
 *   fd,
 *   address,
 *   closeGracefully: () => server.shutdown(),
 *   closeNow: () => server.shutdown(),
 * }, { graceMs: 1000 }); // what drain(server) does for an adopted server
 * ```
 */
export async function drainServer(served: Draining, times: DrainTimes = {}): Promise<void> {
  const graceMs = times.graceMs ?? DEFAULT_GRACE_MS;
  const deadline = Date.now() + graceMs;
  const tracker = served.requests;
  if (tracker !== undefined) tracker.draining = true;
  if (served.stopForwarder !== undefined) served.stopForwarder();
  else if (served.fd !== undefined) {
    try {
      detachListener(served.fd);
    } catch {
      // The server's own close below still stops it; only the shared socket's queue may suffer.
    }
  }
  await sleep(Math.min(times.settleMs ?? 100, graceMs));
  for (;;) {
    if (Date.now() >= deadline) break;
    const connections = acceptedConnections(served.address);
    if (connections.length === 0) break;
    const unread = connections.some((fd) => isReady(fd, "readable"));
    const busy = tracker !== undefined && (tracker.inflight > 0 || Date.now() - tracker.lastStart < IDLE_MS);
    if (!unread && !busy) break;
    await sleep(10);
  }
  const left = Math.max(0, deadline - Date.now());
  let timer: ReturnType<typeof setTimeout> | undefined;
  const closed = await Promise.race([
    served.closeGracefully().then(() => true),
    new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), left)),
  ]).finally(() => clearTimeout(timer));
  if (!closed) await served.closeNow();
}
