/**
 * Socket primitives the rest of the core builds on: create, bind, listen,
 * accept, connect, options, and the local and peer addresses.
 *
 * @module
 */

import { close, setCloseOnExec, setNonBlocking } from "./fd.ts";
import { cBuffer, readInt32, writeInt32 } from "../sys/memory.ts";
import { decodeSocketAddress, encodeSocketAddress } from "../sys/sockaddr.ts";
import type { SocketAddress } from "../sys/../types.ts";
import { check, failure, system } from "../ffi/system.ts";

/** The address families handover creates sockets in. */
export type SocketFamily = "unix" | "inet" | "inet6" | "vsock";

/** The socket types handover creates. */
export type SocketKind = "stream" | "dgram" | "seqpacket";

/** Flags for new sockets. */
export interface NewSocketOptions {
  /** Default true. */
  readonly closeOnExec?: boolean;
  /** Default true. */
  readonly nonBlocking?: boolean;
}

/**
 * The C `AF_*` number of a family on this platform.
 *
 * @param family The family.
 * @returns Its number.
 *
 * @example The number differs between platforms
 * ```ts
 * import "../../mod.ts"; // loads the FFI backend
 * import { familyNumber } from "./socket.ts";
 * familyNumber("inet6"); // 10 on Linux, 30 on macOS
 * ```
 */
export function familyNumber(family: SocketFamily): number {
  const { c } = system();
  return { unix: c.AF_UNIX, inet: c.AF_INET, inet6: c.AF_INET6, vsock: c.AF_VSOCK }[family];
}

/**
 * The C `SOCK_*` number of a socket type.
 *
 * @param kind The type.
 * @returns Its number.
 *
 * @example A datagram socket's type
 * ```ts
 * import "../../mod.ts"; // loads the FFI backend
 * import { kindNumber } from "./socket.ts";
 * kindNumber("dgram"); // 2
 * ```
 */
export function kindNumber(kind: SocketKind): number {
  const { c } = system();
  return { stream: c.SOCK_STREAM, dgram: c.SOCK_DGRAM, seqpacket: c.SOCK_SEQPACKET }[kind];
}

/**
 * Creates a socket, close-on-exec and non-blocking by default.
 *
 * @param family The address family.
 * @param kind The socket type.
 * @param options The flags.
 * @returns The new fd.
 * @throws {HandoverError} When socket(2) fails (`EAFNOSUPPORT`, `EMFILE`…).
 *
 * @example An unbound unix datagram socket
 * ```ts
 * import { close, describeFd } from "../../mod.ts";
 * import { openSocket } from "./socket.ts";
 * const fd = openSocket("unix", "dgram");
 * describeFd(fd).type; // "dgram"
 * close(fd);
 * ```
 */
export function openSocket(family: SocketFamily, kind: SocketKind, options: NewSocketOptions = {}): number {
  const { libc, c } = system();
  const closeOnExec = options.closeOnExec ?? true;
  const nonBlocking = options.nonBlocking ?? true;
  const flags = (closeOnExec ? c.SOCK_CLOEXEC : 0) | (nonBlocking ? c.SOCK_NONBLOCK : 0);
  const fd = check(libc.socket(familyNumber(family), kindNumber(kind) | flags, 0), "socket", `${family} ${kind}`);
  if (c.SOCK_CLOEXEC === 0) {
    try {
      if (closeOnExec) setCloseOnExec(fd, true);
      if (nonBlocking) setNonBlocking(fd, true);
    } catch (error) {
      close(fd);
      throw error;
    }
  }
  return fd;
}

/**
 * Describes an address for messages: `127.0.0.1:80`, `[::1]:80`, a path, `@name`, `vsock:2:80`.
 *
 * @param address The address.
 * @returns The text.
 *
 * @example
 * ```ts
 * import { formatAddress } from "./socket.ts";
 * formatAddress({ family: "inet6", address: "::1", port: 80 }); // "[::1]:80"
 * ```
 */
export function formatAddress(address: SocketAddress): string {
  switch (address.family) {
    case "unix":
      return address.path === "" ? "(unnamed unix socket)" : address.path;
    case "inet":
      return `${address.address}:${address.port}`;
    case "inet6":
      return `[${address.address}]:${address.port}`;
    case "vsock":
      return `vsock:${address.cid}:${address.port}`;
    case "netlink":
      return "(netlink)";
    case "other":
      return `(address family ${address.code})`;
  }
}

/**
 * Binds a socket to an address.
 *
 * @param fd The socket.
 * @param address Where to bind.
 * @throws {HandoverError} When bind(2) fails (`EADDRINUSE`, `EACCES`, `ENAMETOOLONG`…).
 *
 * @example Bind to a free loopback port
 * ```ts
 * import { close } from "../../mod.ts";
 * import { bindSocket, localAddress, openSocket } from "./socket.ts";
 * const fd = openSocket("inet", "stream");
 * bindSocket(fd, { family: "inet", address: "127.0.0.1", port: 0 });
 * localAddress(fd); // { family: "inet", address: "127.0.0.1", port: <the one picked> }
 * close(fd);
 * ```
 */
export function bindSocket(fd: number, address: SocketAddress): void {
  const { libc, c, layout } = system();
  const encoded = encodeSocketAddress(layout, c, address);
  check(libc.bind(fd, encoded.bytes, encoded.length), "bind", formatAddress(address));
}

/**
 * Marks a socket as listening.
 *
 * @param fd The socket.
 * @param backlog The queue length (default `SOMAXCONN`; the kernel caps it).
 * @throws {HandoverError} When listen(2) fails.
 *
 * @example Listen on a bound socket
 * ```ts
 * import { close, describeFd } from "../../mod.ts";
 * import { bindSocket, listenSocket, openSocket } from "./socket.ts";
 * const fd = openSocket("inet", "stream");
 * bindSocket(fd, { family: "inet", address: "127.0.0.1", port: 0 });
 * listenSocket(fd);
 * describeFd(fd).listening; // true
 * close(fd);
 * ```
 */
export function listenSocket(fd: number, backlog?: number): void {
  const { libc, c } = system();
  check(libc.listen(fd, backlog ?? c.SOMAXCONN), "listen", `fd ${fd}`);
}

/**
 * Accepts one connection without waiting.
 *
 * @param fd A listening socket.
 * @param options Flags for the new connection's fd.
 * @returns The connection's fd, or undefined when none is queued (EAGAIN).
 * @throws {HandoverError} When accept fails otherwise.
 *
 * @example Accept once the listener is readable
 * ```ts
 * import { close, createListener, waitForFd } from "../../mod.ts";
 * import { acceptConnection, connectSocket, localAddress, openSocket } from "./socket.ts";
 * const listener = createListener({ port: 0 });
 * acceptConnection(listener); // undefined: no one has connected yet
 * const client = openSocket("inet", "stream");
 * connectSocket(client, localAddress(listener));
 * await waitForFd(listener, "readable", { timeoutMs: 5000 });
 * const connection = acceptConnection(listener)!;
 * for (const fd of [connection, client, listener]) close(fd);
 * ```
 */
export function acceptConnection(fd: number, options: NewSocketOptions = {}): number | undefined {
  const { libc, c, os } = system();
  const closeOnExec = options.closeOnExec ?? true;
  const nonBlocking = options.nonBlocking ?? true;
  for (;;) {
    const result = os === "linux"
      ? libc.accept4(fd, null, null, (closeOnExec ? c.SOCK_CLOEXEC : 0) | (nonBlocking ? c.SOCK_NONBLOCK : 0))
      : libc.accept(fd, null, null);
    const error = failure(result, os === "linux" ? "accept4" : "accept");
    if (error?.code === "EINTR" || error?.code === "ECONNABORTED") continue;
    if (error?.code === "EAGAIN") return undefined;
    if (error !== undefined) throw error;
    if (os !== "linux") {
      if (closeOnExec) setCloseOnExec(result, true);
      setNonBlocking(result, nonBlocking);
    }
    return result;
  }
}

/**
 * Connects a socket (non-blocking sockets may report `EINPROGRESS`, returned as false).
 *
 * @param fd The socket.
 * @param address The peer.
 * @returns True when connected, false when the connection is in progress.
 * @throws {HandoverError} When connect(2) fails (`ECONNREFUSED`, `ENOENT`…).
 *
 * @example Connect to a unix socket path
 * ```ts
 * import { close, createListener } from "../../mod.ts";
 * import { connectSocket, openSocket } from "./socket.ts";
 * const dir = Deno.makeTempDirSync();
 * const listener = createListener({ path: `${dir}/app.sock` });
 * const client = openSocket("unix", "stream");
 * connectSocket(client, { family: "unix", path: `${dir}/app.sock` }); // true: unix sockets connect at once
 * close(client);
 * close(listener);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function connectSocket(fd: number, address: SocketAddress): boolean {
  const { libc, c, layout } = system();
  const encoded = encodeSocketAddress(layout, c, address);
  for (;;) {
    const error = failure(libc.connect(fd, encoded.bytes, encoded.length), "connect");
    if (error === undefined) return true;
    if (error.code === "EINTR") continue;
    if (error.code === "EINPROGRESS") return false;
    error.message = `${error.message} (${formatAddress(address)})`;
    throw error;
  }
}

/**
 * Reads an `int` socket option.
 *
 * @param fd The socket.
 * @param level The level (`SOL_SOCKET`).
 * @param name The option.
 * @returns Its value.
 * @throws {HandoverError} `ENOTSOCK` for a non-socket, `EBADF` for a closed fd.
 *
 * @example Read a socket's type
 * ```ts
 * import { close, socketpair } from "../../mod.ts";
 * import { system } from "../ffi/system.ts";
 * import { getIntOption } from "./socket.ts";
 * const { c } = system();
 * const [a, b] = socketpair("dgram");
 * getIntOption(a, c.SOL_SOCKET, c.SO_TYPE) === c.SOCK_DGRAM; // true
 * close(a);
 * close(b);
 * ```
 */
export function getIntOption(fd: number, level: number, name: number): number {
  const { libc } = system();
  const value = cBuffer(4);
  const length = cBuffer(4);
  writeInt32(length, 0, 4);
  check(libc.getsockopt(fd, level, name, value, length), "getsockopt", `fd ${fd}`);
  return readInt32(value, 0);
}

/**
 * Sets an `int` socket option.
 *
 * @param fd The socket.
 * @param level The level (`SOL_SOCKET`).
 * @param name The option.
 * @param value The value.
 * @throws {HandoverError} When setsockopt(2) fails.
 *
 * @example Let a restarted server bind its port again at once
 * ```ts
 * import { close } from "../../mod.ts";
 * import { system } from "../ffi/system.ts";
 * import { getIntOption, openSocket, setIntOption } from "./socket.ts";
 * const { c } = system();
 * const fd = openSocket("inet", "stream");
 * setIntOption(fd, c.SOL_SOCKET, c.SO_REUSEADDR, 1);
 * getIntOption(fd, c.SOL_SOCKET, c.SO_REUSEADDR) !== 0; // true
 * close(fd);
 * ```
 */
export function setIntOption(fd: number, level: number, name: number, value: number): void {
  const { libc } = system();
  const bytes = cBuffer(4);
  writeInt32(bytes, 0, value);
  check(libc.setsockopt(fd, level, name, bytes, 4), "setsockopt", `fd ${fd}`);
}

/**
 * Sets `SO_RCVTIMEO` (socket(7)): how long a blocking receive, or a blocking
 * accept(2) on a listening socket, waits before it fails with `EAGAIN`.
 *
 * @param fd The socket.
 * @param ms The timeout in milliseconds; 0 waits for ever (the default of a new socket).
 * @throws {HandoverError} When setsockopt(2) fails (`ENOTSOCK` for a file that is not a socket).
 *
 * @example A blocking accept(2) that gives up after 20 ms
 * ```ts
 * import { close } from "../../mod.ts";
 * import { listenSocket, openSocket, setReceiveTimeout } from "./socket.ts";
 * const fd = openSocket("inet", "stream");
 * listenSocket(fd, 16);
 * setReceiveTimeout(fd, 20);
 * setReceiveTimeout(fd, 0); // back to waiting for ever
 * close(fd);
 * ```
 */
export function setReceiveTimeout(fd: number, ms: number): void {
  const { libc, c } = system();
  // struct timeval: a 64-bit tv_sec, then tv_usec (64-bit on Linux, 32-bit on macOS; little-endian on both).
  const bytes = cBuffer(16);
  writeInt32(bytes, 0, Math.floor(ms / 1000));
  writeInt32(bytes, 8, (ms % 1000) * 1000);
  check(libc.setsockopt(fd, c.SOL_SOCKET, c.SO_RCVTIMEO, bytes, 16), "setsockopt", `SO_RCVTIMEO on fd ${fd}`);
}

function addressOf(fd: number, call: "getsockname" | "getpeername"): SocketAddress {
  const { libc, c, layout } = system();
  const bytes = cBuffer(layout.sockaddrStorageSize);
  const length = cBuffer(4);
  writeInt32(length, 0, layout.sockaddrStorageSize);
  check(libc[call](fd, bytes, length), call, `fd ${fd}`);
  return decodeSocketAddress(layout, c, bytes, readInt32(length, 0));
}

/**
 * The local address of a socket (getsockname(2)).
 *
 * @param fd The socket.
 * @returns The address.
 * @throws {HandoverError} `ENOTSOCK` for a non-socket, `EBADF` for a closed fd.
 *
 * @example Find the port the kernel picked
 * ```ts
 * import { close, createListener } from "../../mod.ts";
 * import { localAddress } from "./socket.ts";
 * const fd = createListener({ port: 0 });
 * localAddress(fd); // { family: "inet", address: "127.0.0.1", port: <the one picked> }
 * close(fd);
 * ```
 */
export function localAddress(fd: number): SocketAddress {
  return addressOf(fd, "getsockname");
}

/**
 * The peer address of a connected socket (getpeername(2)).
 *
 * @param fd The socket.
 * @returns The address.
 * @throws {HandoverError} `ENOTCONN` when not connected.
 *
 * @example The peer of a pair end is unnamed
 * ```ts
 * import { close, socketpair } from "../../mod.ts";
 * import { peerAddress } from "./socket.ts";
 * const [a, b] = socketpair();
 * peerAddress(a); // { family: "unix", path: "" }
 * close(a);
 * close(b);
 * ```
 */
export function peerAddress(fd: number): SocketAddress {
  return addressOf(fd, "getpeername");
}
