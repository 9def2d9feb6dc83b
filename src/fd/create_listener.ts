/**
 * A listening socket of your own, as an fd: what a service binds on its
 * first start to hand to systemd's fd store, or to serve with `adopt()`.
 *
 * @module
 */

import { close } from "./fd.ts";
import { bindSocket, listenSocket, openSocket, setIntOption } from "./socket.ts";
import type { SocketType } from "./socketpair.ts";
import type { SocketAddress } from "../sys/../types.ts";
import { system } from "../ffi/system.ts";

/** Where {@link createListener} binds. */
export interface ListenerOptions {
  /** A TCP or UDP port; 0 picks a free one. */
  readonly port?: number;
  /** The address to bind (default `127.0.0.1`; an address with `:` is IPv6, like `::1`). */
  readonly hostname?: string;
  /** A unix socket path, or `@name` for Linux's abstract namespace, instead of a port. */
  readonly path?: string;
  /** `stream` (default; TCP for a port), `dgram` (UDP for a port) or `seqpacket` (unix only). */
  readonly type?: SocketType;
  /** The listen(2) backlog (default `SOMAXCONN`). */
  readonly backlog?: number;
}

/**
 * Binds a socket and, for stream and seqpacket sockets, listens on it. The
 * fd is close-on-exec and non-blocking, and `SO_REUSEADDR` is set on TCP
 * sockets. It is yours: serve it (`adopt(server, fd)`, Node's
 * `listen({ fd })`), hand it to systemd's fd store (`fdStore()`) or to a
 * child (`childStdio()`), and close it when done.
 *
 * @param options A `port` (with an optional `hostname`) or a `path`.
 * @returns The listening fd.
 * @throws {TypeError} Without a `port` or a `path`, or with both, or with a bad hostname.
 * @throws {RangeError} With a port outside 0–65535.
 * @throws {HandoverError} When socket(2), bind(2) or listen(2) fails: `EADDRINUSE`, `EACCES`, `ENAMETOOLONG`…
 *
 * @example Keep a listening socket across restarts in systemd's fd store
 * ```ts
 * import { close, collect, createListener, fdStore, isActivated } from "../../mod.ts";
 * // After `systemctl restart` systemd passes the stored socket back under its name.
 * const fd = isActivated() ? collect("web")[0]! : createListener({ port: 0 });
 * if (!isActivated()) await fdStore("web", [fd]); // false when not run by systemd (no NOTIFY_SOCKET)
 * close(fd); // a server would adopt() it instead
 * ```
 */
export function createListener(options: ListenerOptions): number {
  const { port, path } = options;
  if ((port === undefined) === (path === undefined)) {
    throw new TypeError("Expected createListener() to get a port or a path, and not both");
  }
  const type = options.type ?? "stream";
  const address: SocketAddress = path !== undefined
    ? { family: "unix", path }
    : (options.hostname ?? "127.0.0.1").includes(":")
    ? { family: "inet6", address: options.hostname!, port: port! }
    : { family: "inet", address: options.hostname ?? "127.0.0.1", port: port! };
  if (address.family !== "unix" && type === "seqpacket") {
    throw new TypeError("Expected a unix path for a seqpacket socket: TCP and UDP have no seqpacket type");
  }
  const fd = openSocket(address.family, type);
  try {
    const { c } = system();
    if (address.family !== "unix" && type === "stream") setIntOption(fd, c.SOL_SOCKET, c.SO_REUSEADDR, 1);
    bindSocket(fd, address);
    if (type !== "dgram") listenSocket(fd, options.backlog);
    return fd;
  } catch (error) {
    close(fd);
    throw error;
  }
}
