/**
 * What an fd is: file type, socket family and type, listening or not, local
 * address — like libsystemd's `sd_is_socket*()` family.
 *
 * @module
 */

import { assertFd } from "./fd.ts";
import { getIntOption, localAddress } from "./socket.ts";
import { cBuffer, decodeStat, type SocketAddress } from "./structs.ts";
import { check, system } from "./system.ts";

/** The kinds of fds handover tells apart. */
export type FdType = "stream" | "dgram" | "seqpacket" | "fifo" | "file" | "other";

/** The address families handover reports. */
export type FdFamily = "inet" | "inet6" | "unix" | "vsock" | "netlink" | "other";

/** What an fd is. */
export interface FdDescription {
  /** The file descriptor. */
  readonly fd: number;
  /** Socket type, or `fifo`, `file`, `other` for non-sockets. */
  readonly type: FdType;
  /** The address family, for sockets. */
  readonly family: FdFamily | undefined;
  /** True for a listening socket (`SO_ACCEPTCONN`). */
  readonly listening: boolean;
  /** The local address, for sockets. */
  readonly address: SocketAddress | undefined;
  /** The inode number (the fd store and `LISTEN_PIDFDID` compare these). */
  readonly inode: bigint;
}

/**
 * The `st_mode` and inode of an fd (statx(2) with `AT_EMPTY_PATH` on Linux,
 * fstat(2) on Darwin).
 *
 * @param fd The file descriptor.
 * @returns Its mode and inode.
 * @throws {HandoverError} `EBADF` when the fd is not open.
 *
 * @example
 * ```ts ignore
 * const { mode } = statFd(0);
 * ```
 */
export function statFd(fd: number): { mode: number; ino: bigint } {
  assertFd(fd);
  const { libc, c, layout, os } = system();
  const bytes = cBuffer(layout.stat.size);
  if (os === "linux") {
    check(libc.statx(fd, cBuffer(1), c.AT_EMPTY_PATH, c.STATX_BASIC, bytes), "statx", `fd ${fd}`);
  } else {
    check(libc.fstat(fd, bytes), "fstat", `fd ${fd}`);
  }
  return decodeStat(layout, bytes);
}

/**
 * Describes an fd: socket type and family, listening state and local
 * address, or fifo/file/other.
 *
 * @param fd The file descriptor.
 * @returns The description.
 * @throws {HandoverError} `EBADF` when the fd is not open.
 *
 * @example A socket pair end
 * ```ts
 * import { close, describeFd, socketpair } from "../mod.ts";
 * const [a, b] = socketpair("dgram");
 * describeFd(a); // { fd: a, type: "dgram", family: "unix", listening: false, address: { family: "unix", path: "" }, inode: … }
 * close(a);
 * close(b);
 * ```
 */
export function describeFd(fd: number): FdDescription {
  const { c } = system();
  const { mode, ino } = statFd(fd);
  const format = mode & c.S_IFMT;
  if (format !== c.S_IFSOCK) {
    const type: FdType = format === c.S_IFIFO ? "fifo" : format === c.S_IFREG ? "file" : "other";
    return { fd, type, family: undefined, listening: false, address: undefined, inode: ino };
  }
  const socketType = getIntOption(fd, c.SOL_SOCKET, c.SO_TYPE);
  const type: FdType = socketType === c.SOCK_STREAM
    ? "stream"
    : socketType === c.SOCK_DGRAM
    ? "dgram"
    : socketType === c.SOCK_SEQPACKET
    ? "seqpacket"
    : "other";
  const address = localAddress(fd);
  const family: FdFamily = address.family;
  const listening = type !== "dgram" && getIntOption(fd, c.SOL_SOCKET, c.SO_ACCEPTCONN) !== 0;
  return { fd, type, family, listening, address, inode: ino };
}
