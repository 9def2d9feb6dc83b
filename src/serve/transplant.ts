/**
 * Adoption (SPEC §2.1): the runtime-neutral steps that make a native server,
 * created on an ephemeral address, serve an inherited socket instead. The
 * runtime adapters (`runtimes/*_serve.ts`) create and stop servers; this
 * module finds the server's listening fd, its event-loop registration, and
 * moves the inherited socket into its place, verifying every step.
 *
 * Linux only: it reads `/proc/self/status` and `/proc/self/fdinfo` and calls
 * `statx(2)`, `dup3(2)` and `epoll_ctl(2)`, all through FFI (Deno's `node:fs`
 * alone takes longer to load than the whole adoption).
 *
 * @module
 */

import { HandoverError } from "../sys/errors.ts";
import { assertFd, close, fdFlags, setNonBlocking } from "../fd/fd.ts";
import { describeFd, type FdDescription, statFd } from "../fd/inspect.ts";
import { formatAddress, getIntOption, localAddress } from "../fd/socket.ts";
import { cBuffer, cString, view } from "../sys/memory.ts";
import { errnoError, errnoNumber } from "../sys/errno.ts";
import { encodeEpollEvent } from "../sys/poll.ts";
import type { SocketAddress } from "../sys/../types.ts";
import { check, failure, system } from "../ffi/system.ts";
import type { AdoptedSocket, ServerKind } from "../types.ts";

export type { AdoptedSocket, ServerKind };

/** The socket types a server of each kind can serve. */
const SERVABLE_TYPE: Readonly<Record<ServerKind, "stream" | "dgram">> = {
  http: "stream",
  stream: "stream",
  dgram: "dgram",
};

/** One registration of an fd in an epoll instance, as `/proc/self/fdinfo/<epfd>` shows it. */
export interface EpollRegistration {
  /** The epoll fd. */
  readonly epfd: number;
  /** The registered event mask (`EPOLLIN | EPOLLET`…). */
  readonly events: number;
  /** The 64-bit user data the event loop gets back (a pointer or an fd number). */
  readonly data: bigint;
}

/**
 * Checks that an inherited fd can be served by a server of `kind` and
 * returns what it is.
 *
 * @param fd The inherited fd.
 * @param kind What the server serves.
 * @returns The fd's description.
 * @throws {HandoverError} `EBADF` when `fd` is not open; `ENOTSOCK` when it is not a
 * socket; `EPROTOTYPE` when its type does not fit the server (a datagram socket for an
 * HTTP server); `EINVAL` when a stream socket is not listening (an `Accept=yes` connection).
 *
 * @example A listening TCP socket, and a datagram socket an HTTP server cannot serve
 * ```ts
 * import { close, createListener, type HandoverError, socketpair } from "../../mod.ts";
 * import { checkServable } from "./transplant.ts";
 * const fd = createListener({ port: 0 }); // stands in for the socket systemd passes
 * checkServable(fd, "http"); // { fd, type: "stream", family: "inet", listening: true, address: …, inode: … }
 * const [a, b] = socketpair("dgram");
 * try {
 *   checkServable(a, "http");
 * } catch (error) {
 *   (error as HandoverError).code; // "EPROTOTYPE"
 * }
 * close(fd);
 * close(a);
 * close(b);
 * ```
 */
export function checkServable(fd: number, kind: ServerKind): FdDescription {
  assertFd(fd);
  // fcntl() tells a closed fd apart with EBADF (statx() of some kernels says ENOENT).
  fdFlags(fd);
  const description = describeFd(fd);
  if (description.family === undefined) {
    throw new HandoverError("ENOTSOCK", `Expected fd ${fd} to be a socket to serve, found a ${description.type}`);
  }
  const wanted = SERVABLE_TYPE[kind];
  if (description.type !== wanted) {
    throw new HandoverError(
      "EPROTOTYPE",
      `fd ${fd} is a ${description.type} socket (${
        formatAddress(description.address!)
      }), but a ${kind} server serves ${wanted} sockets`,
    );
  }
  if (wanted === "stream" && !description.listening) {
    throw new HandoverError(
      "EINVAL",
      `fd ${fd} is a stream socket that is not listening (${
        formatAddress(description.address!)
      }): a connection (Accept=yes) cannot be served by a server`,
    );
  }
  return description;
}

/**
 * The address to create a server on so that it can adopt `inherited`: the
 * same family on loopback port 0, or a fresh temporary path for a unix socket.
 *
 * @param inherited What the inherited socket is.
 * @param temporaryPath A path for unix sockets (the adapter makes it and removes it).
 * @returns Where to listen.
 * @throws {HandoverError} `EAFNOSUPPORT` for a family no runtime server listens on (vsock, netlink).
 *
 * @example Where a server for an IPv4 socket starts
 * ```ts
 * import { close, createListener, describeFd } from "../../mod.ts";
 * import { ephemeralAddress } from "./transplant.ts";
 * const fd = createListener({ port: 0 });
 * ephemeralAddress(describeFd(fd), "/tmp/unused.sock"); // { family: "inet", address: "127.0.0.1", port: 0 }
 * close(fd);
 * ```
 */
export function ephemeralAddress(inherited: FdDescription, temporaryPath: string): SocketAddress {
  switch (inherited.family) {
    case "inet":
      return { family: "inet", address: "127.0.0.1", port: 0 };
    case "inet6":
      return { family: "inet6", address: "::1", port: 0 };
    case "unix":
      return { family: "unix", path: temporaryPath };
    default:
      throw new HandoverError(
        "EAFNOSUPPORT",
        `fd ${inherited.fd} is an ${inherited.family} socket; servers can adopt inet, inet6 and unix sockets only`,
      );
  }
}

function sameAddress(a: SocketAddress, b: SocketAddress): boolean {
  if (a.family !== b.family) return false;
  if (a.family === "unix" && b.family === "unix") return a.path === b.path;
  if ((a.family === "inet" && b.family === "inet") || (a.family === "inet6" && b.family === "inet6")) {
    return a.address === b.address && a.port === b.port;
  }
  return false;
}

const decoder = new TextDecoder();

/**
 * Reads a small file (a `/proc` entry) through FFI.
 *
 * @param path The path.
 * @returns Its text, or undefined when it cannot be opened (the fd closed meanwhile).
 */
function readProcFile(path: string): string | undefined {
  const { libc, c } = system();
  const fd = libc.open(cString(path), c.O_CLOEXEC, 0);
  if (fd < 0) return undefined;
  try {
    // One buffer for every read (they are synchronous): each /proc read allocated 64 KiB before.
    const chunk = procChunk ??= cBuffer(65536);
    let text = "";
    for (;;) {
      const n = libc.read(fd, chunk, chunk.byteLength);
      if (n < 0) {
        if (failure(n, "read")?.code === "EINTR") continue;
        return undefined;
      }
      if (n === 0) return text;
      text += decoder.decode(chunk.subarray(0, n), { stream: true });
    }
  } finally {
    libc.close(fd);
  }
}

let procChunk: Uint8Array | undefined;

function modeAndInode(fd: number): { mode: number; ino: bigint } | undefined {
  try {
    return statFd(fd);
  } catch {
    return undefined; // closed meanwhile by another thread of the runtime
  }
}

/**
 * The inode of a socket fd, or undefined when the fd is not an open socket.
 *
 * @param fd The fd.
 * @returns Its inode.
 */
export function socketInode(fd: number): bigint | undefined {
  const stat = modeAndInode(fd);
  return stat !== undefined && (stat.mode & system().c.S_IFMT) === system().c.S_IFSOCK ? stat.ino : undefined;
}

/**
 * The open fds of this process: the entries of `/proc/self/fd`, read with
 * `getdents64(2)`; where that cannot be read, `fcntl(F_GETFD)` on every
 * number below the fd table's size (`FDSize`, which can be thousands in a
 * busy server, where the directory lists only the open ones).
 *
 * @returns The fd numbers, in ascending order.
 */
export function openFdNumbers(): number[] {
  return listedFds() ?? probedFds();
}

function listedFds(): number[] | undefined {
  const { libc, c } = system();
  const directory = libc.open(cString("/proc/self/fd"), c.O_CLOEXEC, 0);
  if (directory < 0) return undefined;
  try {
    const chunk = procChunk ??= cBuffer(65536);
    const dirents = view(chunk);
    const fds: number[] = [];
    for (;;) {
      let n: number;
      try {
        n = libc.getdents64(directory, chunk, chunk.byteLength);
      } catch {
        return undefined; // ELIBACC: a C library without getdents64
      }
      if (n < 0) return undefined; // then the fd table is probed
      if (n === 0) break;
      // struct linux_dirent64: d_ino (8), d_off (8), d_reclen (2, in the machine's byte order: little-endian on
      // every Linux handover runs on), d_type (1), d_name (NUL-terminated).
      for (let at = 0; at < n;) {
        const length = dirents.getUint16(at + 16, true);
        let fd = 0;
        let digits = 0;
        for (let i = at + 19; chunk[i] !== 0; i++, digits++) fd = fd * 10 + chunk[i]! - 48;
        // "." and "..", and the directory's own fd
        if (digits > 0 && chunk[at + 19] !== 46 && fd !== directory) fds.push(fd);
        at += length;
      }
    }
    return fds.sort((a, b) => a - b);
  } finally {
    libc.close(directory);
  }
}

function probedFds(): number[] {
  const { libc, c } = system();
  const size = Number(/^FDSize:\s*(\d+)/m.exec(readProcFile("/proc/self/status") ?? "")?.[1] ?? 1024);
  const open: number[] = [];
  for (let fd = 0; fd < size; fd++) if (libc.fcntl(fd, c.F_GETFD, 0) >= 0) open.push(fd);
  return open;
}

/** An open fd with its file type and inode, as one scan of the process's fds saw it. */
interface OpenFile {
  readonly fd: number;
  readonly mode: number;
  readonly ino: bigint;
}

/**
 * Every open fd of this process with its type and inode: one `statx()` each.
 *
 * @returns The fds that could be looked at (one closed meanwhile is left out).
 */
function openFiles(): OpenFile[] {
  const files: OpenFile[] = [];
  for (const fd of openFdNumbers()) {
    const stat = modeAndInode(fd);
    if (stat !== undefined) files.push({ fd, ...stat });
  }
  return files;
}

const isSocket = (file: OpenFile): boolean => (file.mode & system().c.S_IFMT) === system().c.S_IFSOCK;

/**
 * Finds the fd of the socket a server created: the one socket of this
 * process (other than `exclude`) of the given type whose local address is
 * `address`.
 *
 * @param address The server's address, as the runtime reports it.
 * @param type The socket type.
 * @param exclude An fd to skip (the inherited one, which may share the address).
 * @param files The process's open fds (default: a scan now).
 * @returns The fd.
 * @throws {HandoverError} `ENOENT` when no socket has that address; `ENOTUNIQ` when several do.
 *
 * @example The fd of a Deno.serve server, which Deno does not tell
 * ```ts
 * import "../../mod.ts"; // loads the FFI backend
 * import type { HandoverError } from "../../mod.ts";
 * import { findSocketFd } from "./transplant.ts";
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response("hello"));
 * const address = { family: "inet", address: "127.0.0.1", port: server.addr.port } as const;
 * findSocketFd(address, "stream"); // the number of the server's listening socket
 * try {
 *   findSocketFd(address, "dgram");
 * } catch (error) {
 *   (error as HandoverError).code; // "ENOENT": no UDP socket there
 * }
 * await server.shutdown();
 * ```
 */
export function findSocketFd(
  address: SocketAddress,
  type: "stream" | "dgram",
  exclude = -1,
  files: readonly OpenFile[] = openFiles(),
): number {
  const found: number[] = [];
  for (const { fd } of files.filter(isSocket)) {
    if (fd === exclude) continue;
    try {
      if (!sameAddress(localAddress(fd), address)) continue;
      const { c } = system();
      if (getIntOption(fd, c.SOL_SOCKET, c.SO_TYPE) === (type === "stream" ? c.SOCK_STREAM : c.SOCK_DGRAM)) {
        found.push(fd);
      }
    } catch {
      continue; // closed meanwhile by another thread of the runtime
    }
  }
  if (found.length === 0) {
    throw new HandoverError(
      "ENOENT",
      `Expected the server to have a ${type} socket on ${formatAddress(address)}, found none in /proc/self/fd`,
    );
  }
  if (found.length > 1) {
    throw new HandoverError(
      "ENOTUNIQ",
      `Expected one ${type} socket on ${formatAddress(address)}, found fds ${found.join(", ")}`,
    );
  }
  return found[0]!;
}

/**
 * Parses the `tfd:` lines of an epoll fd's `/proc/self/fdinfo` entry.
 *
 * @param text The fdinfo text.
 * @returns Each registered fd with its events, data and the inode of its file.
 *
 * @example
 * ```ts
 * import { parseEpollFdinfo } from "./transplant.ts";
 * parseEpollFdinfo("tfd:        8 events:       19 data:   7f00aa  pos:0 ino:5dcc sdev:9\n");
 * // [{ fd: 8, events: 0x19, data: 0x7f00aan, inode: 0x5dccn }]
 * ```
 */
export function parseEpollFdinfo(text: string): { fd: number; events: number; data: bigint; inode: bigint }[] {
  const entries: { fd: number; events: number; data: bigint; inode: bigint }[] = [];
  // fs/eventpoll.c ep_show_fdinfo(): "tfd: %8d events: %8x data: %16llx  pos:%lli ino:%lx sdev:%x"
  const line = /^tfd:\s*(\d+)\s+events:\s*([0-9a-f]+)\s+data:\s*([0-9a-f]+)\s+pos:\s*-?\d+\s+ino:\s*([0-9a-f]+)/gm;
  for (const m of text.matchAll(line)) {
    entries.push({
      fd: Number(m[1]),
      events: parseInt(m[2]!, 16) >>> 0,
      data: BigInt(`0x${m[3]}`),
      inode: BigInt(`0x${m[4]}`),
    });
  }
  return entries;
}

/**
 * The epoll fds of this process: anonymous inodes (no file type bits) whose fdinfo lists "tfd:" lines.
 *
 * @param files The process's open fds (default: a scan now).
 * @returns The fd numbers.
 */
export function epollFds(files: readonly OpenFile[] = openFiles()): number[] {
  const { c } = system();
  return files.filter(({ fd, mode }) =>
    (mode & c.S_IFMT) === 0 && (readProcFile(`/proc/self/fdinfo/${fd}`)?.includes("tfd:") ?? false)
  ).map(({ fd }) => fd);
}

/**
 * Where the socket `fd` (with `inode`) is registered among `epfds`, now.
 *
 * @param fd The socket.
 * @param inode Its inode (an fd number alone may name another file by now).
 * @param epfds The epoll fds to look in.
 * @returns The registrations.
 */
export function registrationsOf(fd: number, inode: bigint, epfds: readonly number[]): EpollRegistration[] {
  const found: EpollRegistration[] = [];
  for (const epfd of epfds) {
    const text = readProcFile(`/proc/self/fdinfo/${epfd}`);
    if (text === undefined) continue;
    for (const entry of parseEpollFdinfo(text)) {
      if (entry.fd === fd && entry.inode === inode) found.push({ epfd, events: entry.events, data: entry.data });
    }
  }
  return found;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The epoll registrations of a socket fd: the event loops that wait on it.
 * libuv registers a new watcher on its next loop turn, so this waits up to
 * `timeoutMs` for one to appear.
 *
 * @param fd The socket.
 * @param timeoutMs How long to wait for a registration.
 * @param files The process's open fds for the first look (default: a scan now; later looks scan again).
 * @returns The registrations (several when the loop has several epoll fds for one instance).
 * @throws {HandoverError} `ENOTSUP` when no epoll instance of this process waits on the fd
 * (an event loop handover does not know: kqueue, io_uring).
 *
 * @example The event loop that waits on a Deno.serve server's socket
 * ```ts
 * import "../../mod.ts"; // loads the FFI backend
 * import { findRegistrations, findSocketFd } from "./transplant.ts";
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response("hello"));
 * const fd = findSocketFd({ family: "inet", address: "127.0.0.1", port: server.addr.port }, "stream");
 * await findRegistrations(fd); // [{ epfd: <an epoll fd of Deno's>, events: …, data: … }, …]
 * await server.shutdown();
 * ```
 */
export async function findRegistrations(
  fd: number,
  timeoutMs = 500,
  files?: readonly OpenFile[],
): Promise<EpollRegistration[]> {
  const inode = socketInode(fd);
  if (inode === undefined) throw new HandoverError("EBADF", `Expected fd ${fd} to be an open socket`);
  const deadline = Date.now() + timeoutMs;
  for (let delay = 0;; delay = Math.min(delay * 2 || 1, 20)) {
    const found = registrationsOf(fd, inode, epollFds(files));
    files = undefined;
    if (found.length > 0) return found;
    if (Date.now() >= deadline) break;
    await sleep(delay);
  }
  throw new HandoverError(
    "ENOTSUP",
    `No epoll instance of this process waits on the server's socket (fd ${fd}) after ${timeoutMs} ms: ` +
      "the runtime's event loop is not one handover can adopt into",
  );
}

/**
 * Whether adoption can run here at all: Linux with `/proc` mounted.
 *
 * @returns The reason it cannot, or undefined when it can.
 *
 * @example Adopt where it can run, else forward
 * ```ts
 * import "../../mod.ts"; // loads the FFI backend
 * import { adoptionUnavailable } from "./transplant.ts";
 * adoptionUnavailable(); // undefined on Linux; "adoption needs epoll and /proc, and this is darwin" on macOS
 * const mode = adoptionUnavailable() === undefined ? "adopt" : "fallback";
 * ```
 */
export function adoptionUnavailable(): string | undefined {
  const { os } = system();
  if (os !== "linux") return `adoption needs epoll and /proc, and this is ${os}`;
  if (readProcFile("/proc/self/fdinfo/0") === undefined && readProcFile("/proc/self/status") === undefined) {
    return "adoption reads /proc/self/fdinfo, which cannot be read (is /proc mounted?)";
  }
  return undefined;
}

/**
 * A fresh path for a server's temporary unix socket (replaced by adoption), in `$TMPDIR` or `/tmp`.
 *
 * @returns The path.
 *
 * @example A fresh path each call
 * ```ts
 * import "../../mod.ts"; // loads the FFI backend
 * import { temporarySocketPath } from "./transplant.ts";
 * temporarySocketPath(); // "/tmp/handover-1234-lx2k3-0.sock"
 * temporarySocketPath(); // "/tmp/handover-1234-lx2k3-1.sock"; neither exists until a server binds it
 * ```
 */
export function temporarySocketPath(): string {
  const { backend } = system();
  const directory = (backend.env.get("TMPDIR") ?? "/tmp").replace(/\/+$/, "") || "/tmp";
  return `${directory}/handover-${backend.pid}-${Date.now().toString(36)}-${pathCounter++}.sock`;
}

let pathCounter = 0;

/**
 * Removes a temporary socket path; a missing path is fine.
 *
 * @param path The path.
 *
 * @example Closing a unix listener leaves its file; this removes it
 * ```ts
 * import { close, createListener } from "../../mod.ts";
 * import { removeSocketPath, temporarySocketPath } from "./transplant.ts";
 * const path = temporarySocketPath();
 * close(createListener({ path })); // bind(2) made the file, close(2) left it
 * removeSocketPath(path);
 * removeSocketPath(path); // gone already: nothing happens
 * ```
 */
export function removeSocketPath(path: string): void {
  system().libc.unlink(cString(path));
}

/**
 * Whether the launcher said the listening sockets are shared by several
 * workers (`handover --workers N`, `HANDOVER_WORKERS=shared`): then an
 * adopted listener is registered with `EPOLLEXCLUSIVE`, so that a connection
 * wakes one worker's event loop rather than every one (epoll_ctl(2)), unless
 * `HANDOVER_EPOLLEXCLUSIVE=0` turns that off (for measuring: see
 * docs/benchmarks.md, "Workers"). Never under a service manager that did not
 * say so: plain systemd keeps the runtime's own registration.
 *
 * @returns True when `HANDOVER_WORKERS` is `shared` and `HANDOVER_EPOLLEXCLUSIVE` is not `0`.
 *
 * @example
 * ```ts
 * import "../../mod.ts";
 * import { sharedByWorkers } from "./transplant.ts";
 * sharedByWorkers(); // false, unless started by handover --workers N
 * ```
 */
export function sharedByWorkers(): boolean {
  const { env } = system().backend;
  return env.get("HANDOVER_WORKERS") === "shared" && env.get("HANDOVER_EPOLLEXCLUSIVE") !== "0";
}

/**
 * Moves the inherited socket into the place of a server's own listening
 * socket (SPEC §2.1): finds the server's fd by its address, its epoll
 * registrations, sets `O_NONBLOCK` on the inherited fd, `dup3()`s it over the
 * server's fd, registers it again with the same events and data (plus
 * `EPOLLEXCLUSIVE` when {@link sharedByWorkers}), verifies, and closes the
 * inherited fd number. The server's own socket is closed by
 * the `dup3()`; afterwards the process has one socket for the address.
 *
 * @param inherited The inherited socket, checked with {@link checkServable}.
 * @param serverAddress The server's own (ephemeral) address.
 * @returns Where it is served now.
 * @throws {HandoverError} `EAFNOSUPPORT` when the families differ; `ENOENT`/`ENOTUNIQ` when
 * the server's socket cannot be told; `ENOTSUP` when its event loop is not epoll; the errno
 * of `dup3`/`epoll_ctl`; `EIO` when a verification fails. The inherited fd stays open on failure.
 *
 * @example A Deno.serve server takes over a listening socket
 * ```ts
 * import { createListener } from "../../mod.ts";
 * import { checkServable, transplant } from "./transplant.ts";
 * const inherited = checkServable(createListener({ port: 0 }), "http"); // stands in for the socket systemd passes
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response("hello"));
 * const adopted = await transplant(inherited, { family: "inet", address: "127.0.0.1", port: server.addr.port });
 * adopted; // { fd: <the server's own fd number>, address: inherited.address, type: "stream", method: "adopted" }
 * const { port } = adopted.address as { port: number };
 * await (await fetch(`http://127.0.0.1:${port}/`)).text(); // "hello"
 * await server.shutdown(); // closes the adopted socket
 * ```
 */
export async function transplant(inherited: FdDescription, serverAddress: SocketAddress): Promise<AdoptedSocket> {
  const unavailable = adoptionUnavailable();
  if (unavailable !== undefined) throw new HandoverError("ENOTSUP", unavailable);
  const { libc, c, layout } = system();
  const type = inherited.type as "stream" | "dgram";
  if (inherited.family !== serverAddress.family) {
    throw new HandoverError(
      "EAFNOSUPPORT",
      `fd ${inherited.fd} is an ${inherited.family} socket (${formatAddress(inherited.address!)}), ` +
        `but the server listens on ${serverAddress.family} ${formatAddress(serverAddress)}: ` +
        `create the server on ${formatAddress(ephemeralAddress(inherited, "a temporary path"))}`,
    );
  }
  const files = openFiles();
  const target = findSocketFd(serverAddress, type, inherited.fd, files);
  const registrations = await findRegistrations(target, undefined, files);
  const serverInode = socketInode(target)!;
  const inheritedInode = socketInode(inherited.fd);
  if (inheritedInode === undefined) throw new HandoverError("EBADF", `fd ${inherited.fd} was closed meanwhile`);
  // The server's loop expects a non-blocking socket; O_NONBLOCK belongs to the
  // open file, so the systemd side is unaffected (it only polls).
  setNonBlocking(inherited.fd, true);
  // From here the server's socket is gone: a failure leaves fd `target` holding
  // the inherited socket, which the caller closes with the server.
  check(libc.dup3(inherited.fd, target, c.O_CLOEXEC), "dup3", `fd ${inherited.fd} onto the server's fd ${target}`);
  const epfds = [...new Set(registrations.map((r) => r.epfd))];
  const stale = registrationsOf(target, serverInode, epfds);
  if (stale.length > 0) {
    throw new HandoverError("EIO", `fd ${target} is still registered after dup3(); the server's socket is shared`);
  }
  const exclusive = type === "stream" && sharedByWorkers() ? c.EPOLLEXCLUSIVE : 0;
  // EPOLLEXCLUSIVE goes with EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP, EPOLLET and EPOLLWAKEUP only (epoll_ctl(2): EINVAL
  // otherwise). Deno's loop (mio) asks for EPOLLRDHUP on every socket, which a listening socket never reports: left out.
  const dropped = exclusive === 0 ? 0 : c.EPOLL_NOT_EXCLUSIVE;
  const add = (epfd: number, events: number, data: bigint): number => {
    const result = libc.epoll_ctl(epfd, c.EPOLL_CTL_ADD, target, encodeEpollEvent(layout, events, data));
    return result < 0 ? system().backend.errno() : 0;
  };
  for (const registration of registrations) {
    let errno = 0;
    if (exclusive !== 0) {
      errno = add(registration.epfd, ((registration.events & ~dropped) | exclusive) >>> 0, registration.data);
    }
    // Linux before 4.5, or events EPOLLEXCLUSIVE does not go with (EPOLLONESHOT): the registration as it was.
    if (exclusive === 0 || errno === errnoNumber("linux", "EINVAL")) {
      errno = add(registration.epfd, registration.events, registration.data);
    }
    // Two fds of one epoll instance: the first ADD registered it for both. (An errno compared as a number: building
    // the error for this expected case cost Deno more than the rest of the step.)
    if (errno !== 0 && errno !== errnoNumber("linux", "EEXIST")) {
      throw errnoError("linux", "epoll_ctl", errno, `adding fd ${target} to epoll fd ${registration.epfd}`);
    }
  }
  const now = registrationsOf(target, inheritedInode, epfds);
  const missing = registrations.filter((r) =>
    !now.some((n) =>
      n.epfd === r.epfd && ((n.events & ~exclusive & ~dropped) >>> 0) === ((r.events & ~dropped) >>> 0) &&
      n.data === r.data
    )
  );
  if (missing.length > 0) {
    throw new HandoverError(
      "EIO",
      `After epoll_ctl(), epoll fd ${missing[0]!.epfd} does not wait on fd ${target} as the server's socket was`,
    );
  }
  if (socketInode(target) !== inheritedInode) {
    throw new HandoverError("EIO", `After dup3(), fd ${target} is not the inherited socket`);
  }
  const address = localAddress(target);
  close(inherited.fd);
  // The server's own unix socket is closed now; its path would be a stale file.
  if (
    serverAddress.family === "unix" && serverAddress.path !== "" && !serverAddress.path.startsWith("@") &&
    !(address.family === "unix" && address.path === serverAddress.path)
  ) {
    removeSocketPath(serverAddress.path);
  }
  return { fd: target, address, type, method: "adopted" };
}
