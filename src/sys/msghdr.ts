/**
 * `msghdr` and its control messages (`cmsghdr`: `SCM_RIGHTS`, `SCM_CREDENTIALS`), as sendmsg(2) and recvmsg(2) take them.
 *
 * @module
 */

import type { SystemConstants } from "./constants.ts";
import { HandoverError } from "./errors.ts";
import type { CmsghdrLayout, StructLayouts } from "./layout.ts";
import type { Credentials } from "../types.ts";
import { cBuffer, view } from "./memory.ts";
import type { EncodedAddress } from "./sockaddr.ts";

function align(layout: CmsghdrLayout, n: number): number {
  return (n + layout.align - 1) & ~(layout.align - 1);
}
/**
 * `CMSG_SPACE(n)`: the room one control message with `n` data bytes takes.
 *
 * @param layout The platform's cmsghdr layout.
 * @param dataLength The data bytes.
 * @returns The aligned size.
 *
 * @example
 * ```ts
 * import { controlSpace } from "./msghdr.ts";
 * import { layoutsFor } from "./layout.ts";
 * controlSpace(layoutsFor({ os: "linux", arch: "x86_64" }).cmsghdr, 4); // 24
 * ```
 */
export function controlSpace(layout: CmsghdrLayout, dataLength: number): number {
  return align(layout, layout.header) + align(layout, dataLength);
}
/** What one sendmsg(2) carries besides its data. */
export interface ControlContent {
  /** File descriptors to pass (SCM_RIGHTS). */
  readonly fds?: readonly number[];
  /** Credentials to send (SCM_CREDENTIALS, Linux). */
  readonly credentials?: Credentials;
}
/**
 * Encodes control messages: SCM_RIGHTS first, then SCM_CREDENTIALS (the order
 * libsystemd's `sd_pid_notify_with_fds` uses).
 *
 * @param layout The platform's layouts.
 * @param c The platform's constants.
 * @param content The fds and credentials.
 * @returns The control buffer, empty when there is nothing to send.
 * @throws {HandoverError} `ENOTSUP` for credentials on a platform without SCM_CREDENTIALS.
 *
 * @example Two fds
 * ```ts
 * import { encodeControl } from "./msghdr.ts";
 * import { layoutsFor } from "./layout.ts";
 * import { LINUX } from "./constants.ts";
 * encodeControl(layoutsFor({ os: "linux", arch: "x86_64" }), LINUX, { fds: [5, 6] }).byteLength; // 24
 * ```
 */
export function encodeControl(layout: StructLayouts, c: SystemConstants, content: ControlContent): Uint8Array {
  const cm = layout.cmsghdr;
  const fds = content.fds ?? [];
  const ucred = layout.ucred;
  if (content.credentials !== undefined && (ucred === undefined || c.SCM_CREDENTIALS === 0)) {
    throw new HandoverError("ENOTSUP", "Sending credentials (SCM_CREDENTIALS) works only on Linux");
  }
  const rightsSpace = fds.length > 0 ? controlSpace(cm, fds.length * 4) : 0;
  const credentialsSpace = content.credentials !== undefined ? controlSpace(cm, ucred!.size) : 0;
  const total = rightsSpace + credentialsSpace;
  if (total === 0) return new Uint8Array(0);
  const bytes = cBuffer(total);
  const dv = view(bytes);
  const header = (offset: number, type: number, dataLength: number) => {
    const len = cm.header + dataLength;
    if (cm.lenSize === 8) dv.setBigUint64(offset + cm.len, BigInt(len), true);
    else dv.setUint32(offset + cm.len, len, true);
    dv.setInt32(offset + cm.level, c.SOL_SOCKET, true);
    dv.setInt32(offset + cm.type, type, true);
    return offset + align(cm, cm.header);
  };
  if (fds.length > 0) {
    const data = header(0, c.SCM_RIGHTS, fds.length * 4);
    fds.forEach((fd, i) => dv.setInt32(data + i * 4, fd, true));
  }
  if (content.credentials !== undefined) {
    const data = header(rightsSpace, c.SCM_CREDENTIALS, ucred!.size);
    dv.setInt32(data + ucred!.pid, content.credentials.pid, true);
    dv.setUint32(data + ucred!.uid, content.credentials.uid, true);
    dv.setUint32(data + ucred!.gid, content.credentials.gid, true);
  }
  return bytes;
}
/** What recvmsg(2) delivered besides its data. */
export interface DecodedControl {
  /** File descriptors received (SCM_RIGHTS), in order. */
  readonly fds: number[];
  /** The sender's credentials (SCM_CREDENTIALS), when the receiver asked for them. */
  readonly credentials: Credentials | undefined;
}
/**
 * Decodes the control messages recvmsg(2) filled in.
 *
 * @param layout The platform's layouts.
 * @param c The platform's constants.
 * @param bytes The control buffer.
 * @param length The `msg_controllen` recvmsg returned.
 * @returns The fds and credentials found.
 *
 * @example
 * ```ts
 * import { decodeControl, encodeControl } from "./msghdr.ts";
 * import { layoutsFor } from "./layout.ts";
 * import { LINUX } from "./constants.ts";
 * const layout = layoutsFor({ os: "linux", arch: "x86_64" });
 * const bytes = encodeControl(layout, LINUX, { fds: [7] });
 * decodeControl(layout, LINUX, bytes, bytes.byteLength).fds; // [7]
 * ```
 */
export function decodeControl(
  layout: StructLayouts,
  c: SystemConstants,
  bytes: Uint8Array,
  length: number,
): DecodedControl {
  const cm = layout.cmsghdr;
  const dv = view(bytes);
  const fds: number[] = [];
  let credentials: Credentials | undefined;
  let offset = 0;
  const end = Math.min(length, bytes.byteLength);
  while (offset + cm.header <= end) {
    const len = cm.lenSize === 8 ? Number(dv.getBigUint64(offset + cm.len, true)) : dv.getUint32(offset + cm.len, true);
    if (len < cm.header || offset + len > end) break;
    const level = dv.getInt32(offset + cm.level, true);
    const type = dv.getInt32(offset + cm.type, true);
    const data = offset + align(cm, cm.header);
    const dataLength = len - align(cm, cm.header);
    if (level === c.SOL_SOCKET && type === c.SCM_RIGHTS) {
      for (let i = 0; i + 4 <= dataLength; i += 4) fds.push(dv.getInt32(data + i, true));
    } else if (
      level === c.SOL_SOCKET && c.SCM_CREDENTIALS !== 0 && type === c.SCM_CREDENTIALS && layout.ucred !== undefined
    ) {
      const u = layout.ucred;
      credentials = {
        pid: dv.getInt32(data + u.pid, true),
        uid: dv.getUint32(data + u.uid, true),
        gid: dv.getUint32(data + u.gid, true),
      };
    }
    offset += align(cm, len);
  }
  return { fds, credentials };
}
/** The buffers of one `struct msghdr`; keep it referenced until the call returns. */
export interface EncodedMessage {
  /** The `struct msghdr` to pass. */
  readonly msghdr: Uint8Array;
  /** The buffers msghdr points into, kept alive with it. */
  readonly parts: readonly Uint8Array[];
}
/** What a `struct msghdr` points to. */
export interface MessageBuffers {
  /** `msg_name` and its length, or undefined. */
  readonly name?: EncodedAddress;
  /** The data buffers, one iovec each. */
  readonly iov: readonly Uint8Array[];
  /** `msg_control`, or undefined. */
  readonly control?: Uint8Array;
}
/**
 * Builds a `struct msghdr` (and its iovec array) pointing at `buffers`.
 *
 * @param layout The platform's layouts.
 * @param address The backend's address-of-buffer function.
 * @param buffers What the message points at.
 * @returns The msghdr and the buffers it needs alive.
 *
 * @example Send a datagram with sendmsg(2)
 * ```ts
 * import { close, socketpair } from "../../mod.ts";
 * import { system } from "../ffi/system.ts";
 * import { cString } from "./memory.ts";
 * import { encodeMessage } from "./msghdr.ts";
 * const { libc, c, layout, backend } = system();
 * const [a, b] = socketpair("dgram");
 * const message = encodeMessage(layout, backend.address, { iov: [cString("hi")] }); // referenced until sent
 * libc.sendmsg(a, message.msghdr, c.MSG_DONTWAIT); // 3: "hi" and its NUL
 * close(a);
 * close(b);
 * ```
 */
export function encodeMessage(
  layout: StructLayouts,
  address: (buffer: Uint8Array) => bigint,
  buffers: MessageBuffers,
): EncodedMessage {
  const m = layout.msghdr;
  const io = layout.iovec;
  const msghdr = cBuffer(m.size);
  const dv = view(msghdr);
  const iovec = cBuffer(Math.max(1, buffers.iov.length) * io.size);
  const iv = view(iovec);
  buffers.iov.forEach((part, i) => {
    iv.setBigUint64(i * io.size + io.base, part.byteLength > 0 ? address(part) : 0n, true);
    iv.setBigUint64(i * io.size + io.len, BigInt(part.byteLength), true);
  });
  const setSize = (offset: number, size: 4 | 8, value: number) => {
    if (size === 8) dv.setBigUint64(offset, BigInt(value), true);
    else dv.setUint32(offset, value, true);
  };
  if (buffers.name !== undefined) {
    dv.setBigUint64(m.name, address(buffers.name.bytes), true);
    dv.setUint32(m.namelen, buffers.name.length, true);
  }
  dv.setBigUint64(m.iov, address(iovec), true);
  setSize(m.iovlen, m.iovlenSize, buffers.iov.length);
  const control = buffers.control;
  if (control !== undefined && control.byteLength > 0) {
    dv.setBigUint64(m.control, address(control), true);
    setSize(m.controllen, m.controllenSize, control.byteLength);
  }
  return {
    msghdr,
    parts: [iovec, ...buffers.iov, ...(control ? [control] : []), ...(buffers.name ? [buffers.name.bytes] : [])],
  };
}
/**
 * Reads the fields recvmsg(2) wrote back into a msghdr.
 *
 * @param layout The platform's layouts.
 * @param msghdr The msghdr passed to recvmsg.
 * @returns `msg_namelen`, `msg_controllen` and `msg_flags`.
 *
 * @example See that a datagram was cut short
 * ```ts
 * import { close, socketpair } from "../../mod.ts";
 * import { system } from "../ffi/system.ts";
 * import { cBuffer, cString } from "./memory.ts";
 * import { decodeMessageResult, encodeMessage } from "./msghdr.ts";
 * const { libc, c, layout, backend } = system();
 * const [a, b] = socketpair("dgram");
 * const sent = encodeMessage(layout, backend.address, { iov: [cString("hello")] });
 * libc.sendmsg(a, sent.msghdr, 0);
 * const received = encodeMessage(layout, backend.address, { iov: [cBuffer(2)] });
 * libc.recvmsg(b, received.msghdr, 0); // 2
 * (decodeMessageResult(layout, received.msghdr).flags & c.MSG_TRUNC) !== 0; // true: the rest was dropped
 * close(a);
 * close(b);
 * ```
 */
export function decodeMessageResult(
  layout: StructLayouts,
  msghdr: Uint8Array,
): { nameLength: number; controlLength: number; flags: number } {
  const m = layout.msghdr;
  const dv = view(msghdr);
  return {
    nameLength: dv.getUint32(m.namelen, true),
    controlLength: m.controllenSize === 8
      ? Number(dv.getBigUint64(m.controllen, true))
      : dv.getUint32(m.controllen, true),
    flags: dv.getInt32(m.flags, true),
  };
}
