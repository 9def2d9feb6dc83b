/**
 * What an fd is: file type, socket family and type, listening or not, local
 * address — like libsystemd's `sd_is_socket*()` family.
 *
 * @module
 */

import { assertFd } from "./fd.ts";
import { getIntOption, localAddress } from "./socket.ts";
import { cBuffer } from "../sys/memory.ts";
import { decodeStat } from "../sys/stat.ts";
import { check, system } from "../ffi/system.ts";
import type { FdDescription, FdFamily, FdType } from "../types.ts";

export type { FdDescription, FdFamily, FdType };

/**
 * The `st_mode` and inode of an fd (statx(2) with `AT_EMPTY_PATH` on Linux,
 * fstat(2) on Darwin).
 *
 * @param fd The file descriptor.
 * @returns Its mode and inode.
 * @throws {HandoverError} `EBADF` when the fd is not open.
 *
 * @example Tell a socket from a regular file
 * ```ts
 * import { close, socketpair } from "../../mod.ts";
 * import { system } from "../ffi/system.ts";
 * import { statFd } from "./inspect.ts";
 * const { c } = system();
 * const [a, b] = socketpair();
 * (statFd(a).mode & c.S_IFMT) === c.S_IFSOCK; // true
 * close(a);
 * close(b);
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
 * import { close, describeFd, socketpair } from "../../mod.ts";
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
