/**
 * Encoders and decoders for the C structures handover exchanges with libc,
 * written with `DataView` over the per-platform layouts of `layout.ts`.
 * Nothing here calls C; functions that embed pointers take an `address`
 * function so that they stay pure.
 *
 * @module
 */

import type { SystemConstants } from "./constants.ts";
import { HandoverError } from "./errors.ts";
import type { CmsghdrLayout, StructLayouts } from "./layout.ts";

/** A socket address, as handover reports and accepts it. */
export type SocketAddress =
  | {
    readonly family: "unix";
    /** A filesystem path, `@name` for Linux's abstract namespace, or "" when unnamed. */
    readonly path: string;
  }
  | { readonly family: "inet"; readonly address: string; readonly port: number }
  | {
    readonly family: "inet6";
    readonly address: string;
    readonly port: number;
    readonly flowinfo?: number;
    readonly scopeId?: number;
  }
  | { readonly family: "vsock"; readonly cid: number; readonly port: number }
  | { readonly family: "netlink" }
  | {
    readonly family: "other";
    /** The `AF_*` number. */
    readonly code: number;
  };

/** An encoded socket address and the length to pass with it. */
export interface EncodedAddress {
  readonly bytes: Uint8Array;
  /** The `socklen_t` to pass: for Linux abstract names it ends right after the name. */
  readonly length: number;
}

/** Credentials of a process, as in `struct ucred`. */
export interface Credentials {
  /** The process id. */
  readonly pid: number;
  /** The user id. */
  readonly uid: number;
  /** The group id. */
  readonly gid: number;
}

/**
 * A zero-filled buffer for C to read or write. Never smaller than 128 bytes,
 * so that V8 keeps it off its moving heap and its address stays put.
 *
 * @param size The bytes needed.
 * @returns A view of exactly `size` bytes.
 *
 * @example
 * ```ts
 * import { cBuffer } from "./structs.ts";
 * cBuffer(8).byteLength; // 8
 * ```
 */
export function cBuffer(size: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(Math.max(size, 128)), 0, size);
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Encodes `text` as a NUL-terminated C string.
 *
 * @param text The string; must not contain NUL.
 * @returns Its UTF-8 bytes and a final NUL.
 * @throws {TypeError} When `text` contains a NUL character.
 *
 * @example
 * ```ts
 * import { cString } from "./structs.ts";
 * cString("ab"); // Uint8Array [97, 98, 0]
 * ```
 */
export function cString(text: string): Uint8Array {
  if (text.includes("\0")) throw new TypeError(`Expected a string without NUL characters, got ${JSON.stringify(text)}`);
  const encoded = encoder.encode(text);
  const bytes = cBuffer(encoded.length + 1);
  bytes.set(encoded);
  return bytes;
}

function writeFamily(dv: DataView, offset: number, size: 1 | 2, family: number): void {
  if (size === 1) dv.setUint8(offset, family);
  else dv.setUint16(offset, family, true);
}

function readFamily(dv: DataView, offset: number, size: 1 | 2): number {
  return size === 1 ? dv.getUint8(offset) : dv.getUint16(offset, true);
}

/**
 * Parses a dotted IPv4 address.
 *
 * @param text Like `127.0.0.1`.
 * @returns The four bytes.
 * @throws {TypeError} When `text` is not an IPv4 address.
 *
 * @example
 * ```ts
 * import { parseIPv4 } from "./structs.ts";
 * parseIPv4("127.0.0.1"); // Uint8Array [127, 0, 0, 1]
 * ```
 */
export function parseIPv4(text: string): Uint8Array {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)) {
    throw new TypeError(`Expected an IPv4 address like 127.0.0.1, got ${JSON.stringify(text)}`);
  }
  return Uint8Array.from(parts.map(Number));
}

/**
 * Parses an IPv6 address (with `::` compression and an optional IPv4 tail).
 *
 * @param text Like `::1` or `::ffff:127.0.0.1`.
 * @returns The sixteen bytes.
 * @throws {TypeError} When `text` is not an IPv6 address.
 *
 * @example
 * ```ts
 * import { parseIPv6 } from "./structs.ts";
 * parseIPv6("::1")[15]; // 1
 * ```
 */
export function parseIPv6(text: string): Uint8Array {
  const fail = () => new TypeError(`Expected an IPv6 address like ::1, got ${JSON.stringify(text)}`);
  const halves = text.split("::");
  if (halves.length > 2) throw fail();
  const groups = (part: string): number[] => {
    if (part === "") return [];
    const out: number[] = [];
    const pieces = part.split(":");
    pieces.forEach((piece, index) => {
      if (index === pieces.length - 1 && piece.includes(".")) {
        const v4 = parseIPv4(piece);
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) {
        out.push(parseInt(piece, 16));
      } else {
        throw fail();
      }
    });
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) throw fail();
  const all = [...head, ...new Array(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((group, i) => {
    bytes[i * 2] = group >> 8;
    bytes[i * 2 + 1] = group & 0xff;
  });
  return bytes;
}

/**
 * Formats sixteen bytes as an IPv6 address in RFC 5952's canonical form.
 *
 * @param bytes The address.
 * @returns Like `::1`.
 *
 * @example
 * ```ts
 * import { formatIPv6, parseIPv6 } from "./structs.ts";
 * formatIPv6(parseIPv6("0:0:0:0:0:0:0:1")); // "::1"
 * ```
 */
export function formatIPv6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (list: number[]) => list.map((g) => g.toString(16)).join(":");
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

/**
 * Encodes a socket address for bind(2), connect(2) or sendto(2).
 *
 * @param layout The platform's layouts.
 * @param c The platform's constants.
 * @param address The address.
 * @returns The bytes and the length to pass.
 * @throws {HandoverError} `ENAMETOOLONG` when a unix path does not fit `sun_path`;
 * `EAFNOSUPPORT` for a family this platform lacks.
 * @throws {TypeError} When an IP address does not parse.
 * @throws {RangeError} When a port is out of range.
 *
 * @example An abstract unix name
 * ```ts
 * import { encodeSocketAddress } from "./structs.ts";
 * import { layoutsFor } from "./layout.ts";
 * import { LINUX } from "./constants.ts";
 * const { length } = encodeSocketAddress(layoutsFor({ os: "linux", arch: "x86_64" }), LINUX, {
 *   family: "unix",
 *   path: "@notify",
 * });
 * length; // 2 + 1 + 6: the family, the leading NUL and the name, no padding
 * ```
 */
export function encodeSocketAddress(
  layout: StructLayouts,
  c: SystemConstants,
  address: SocketAddress,
): EncodedAddress {
  const checkPort = (port: number) => {
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`Expected a port from 0 to 65535, got ${port}`);
    }
  };
  switch (address.family) {
    case "unix": {
      const un = layout.sockaddrUn;
      const abstract = address.path.startsWith("@");
      if (abstract && c.AF_NETLINK === 0) {
        throw new HandoverError("EAFNOSUPPORT", `Abstract unix socket names like ${address.path} exist only on Linux`);
      }
      const name = encoder.encode(abstract ? address.path.slice(1) : address.path);
      if (!abstract && name.includes(0)) {
        throw new TypeError(`Expected a unix socket path without NUL characters, got ${JSON.stringify(address.path)}`);
      }
      // A path needs its terminating NUL inside sun_path; an abstract name its leading one.
      if (name.length + 1 > un.pathSize) {
        throw new HandoverError(
          "ENAMETOOLONG",
          `The unix socket ${abstract ? "name" : "path"} ${
            JSON.stringify(address.path)
          } is ${name.length} bytes, but sun_path holds at most ${un.pathSize - 1}`,
        );
      }
      const bytes = cBuffer(un.size);
      const dv = view(bytes);
      writeFamily(dv, un.family, un.familySize, c.AF_UNIX);
      bytes.set(name, un.path + (abstract ? 1 : 0));
      const length = un.path + name.length + 1;
      if (un.len >= 0) dv.setUint8(un.len, length);
      return { bytes, length: address.path === "" ? un.path : length };
    }
    case "inet": {
      checkPort(address.port);
      const sin = layout.sockaddrIn;
      const bytes = cBuffer(sin.size);
      const dv = view(bytes);
      if (sin.len >= 0) dv.setUint8(sin.len, sin.size);
      writeFamily(dv, sin.family, sin.familySize, c.AF_INET);
      dv.setUint16(sin.port, address.port, false);
      bytes.set(parseIPv4(address.address), sin.addr);
      return { bytes, length: sin.size };
    }
    case "inet6": {
      checkPort(address.port);
      const sin6 = layout.sockaddrIn6;
      const bytes = cBuffer(sin6.size);
      const dv = view(bytes);
      if (sin6.len >= 0) dv.setUint8(sin6.len, sin6.size);
      writeFamily(dv, sin6.family, sin6.familySize, c.AF_INET6);
      dv.setUint16(sin6.port, address.port, false);
      dv.setUint32(sin6.flowinfo, address.flowinfo ?? 0, false);
      bytes.set(parseIPv6(address.address), sin6.addr);
      dv.setUint32(sin6.scopeId, address.scopeId ?? 0, true);
      return { bytes, length: sin6.size };
    }
    case "vsock": {
      const vm = layout.sockaddrVm;
      if (vm === undefined) throw new HandoverError("EAFNOSUPPORT", "AF_VSOCK exists only on Linux");
      for (const [what, value] of [["CID", address.cid], ["port", address.port]] as const) {
        if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
          throw new RangeError(`Expected a vsock ${what} from 0 to 4294967295, got ${value}`);
        }
      }
      const bytes = cBuffer(vm.size);
      const dv = view(bytes);
      dv.setUint16(vm.family, c.AF_VSOCK, true);
      dv.setUint32(vm.port, address.port, true);
      dv.setUint32(vm.cid, address.cid, true);
      return { bytes, length: vm.size };
    }
    default:
      throw new HandoverError("EAFNOSUPPORT", `handover cannot encode a ${address.family} address`);
  }
}

/**
 * Decodes a socket address that getsockname(2), accept(2) or recvmsg(2) filled in.
 *
 * @param layout The platform's layouts.
 * @param c The platform's constants.
 * @param bytes The buffer (at least `sockaddr_storage` large).
 * @param length The `socklen_t` the call returned.
 * @returns The address.
 *
 * @example
 * ```ts
 * import { decodeSocketAddress, encodeSocketAddress } from "./structs.ts";
 * import { layoutsFor } from "./layout.ts";
 * import { LINUX } from "./constants.ts";
 * const layout = layoutsFor({ os: "linux", arch: "x86_64" });
 * const { bytes, length } = encodeSocketAddress(layout, LINUX, { family: "inet", address: "127.0.0.1", port: 80 });
 * decodeSocketAddress(layout, LINUX, bytes, length); // { family: "inet", address: "127.0.0.1", port: 80 }
 * ```
 */
export function decodeSocketAddress(
  layout: StructLayouts,
  c: SystemConstants,
  bytes: Uint8Array,
  length: number,
): SocketAddress {
  const dv = view(bytes);
  const family = readFamily(dv, layout.sockaddrUn.family, layout.sockaddrUn.familySize);
  if (family === c.AF_UNIX) {
    const un = layout.sockaddrUn;
    const pathLength = Math.min(length, un.size) - un.path;
    if (pathLength <= 0) return { family: "unix", path: "" };
    const raw = bytes.subarray(un.path, un.path + pathLength);
    if (raw[0] === 0) return { family: "unix", path: `@${decoder.decode(raw.subarray(1))}` };
    const end = raw.indexOf(0);
    return { family: "unix", path: decoder.decode(end < 0 ? raw : raw.subarray(0, end)) };
  }
  if (family === c.AF_INET) {
    const sin = layout.sockaddrIn;
    const a = bytes.subarray(sin.addr, sin.addr + 4);
    return { family: "inet", address: `${a[0]}.${a[1]}.${a[2]}.${a[3]}`, port: dv.getUint16(sin.port, false) };
  }
  if (family === c.AF_INET6) {
    const sin6 = layout.sockaddrIn6;
    const scopeId = dv.getUint32(sin6.scopeId, true);
    const flowinfo = dv.getUint32(sin6.flowinfo, false);
    return {
      family: "inet6",
      address: formatIPv6(bytes.subarray(sin6.addr, sin6.addr + 16)),
      port: dv.getUint16(sin6.port, false),
      ...(flowinfo !== 0 ? { flowinfo } : {}),
      ...(scopeId !== 0 ? { scopeId } : {}),
    };
  }
  if (c.AF_VSOCK !== 0 && family === c.AF_VSOCK && layout.sockaddrVm !== undefined) {
    const vm = layout.sockaddrVm;
    return { family: "vsock", cid: dv.getUint32(vm.cid, true), port: dv.getUint32(vm.port, true) };
  }
  if (c.AF_NETLINK !== 0 && family === c.AF_NETLINK) return { family: "netlink" };
  return { family: "other", code: family };
}

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
 * import { controlSpace } from "./structs.ts";
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
 * import { encodeControl } from "./structs.ts";
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
 * import { decodeControl, encodeControl } from "./structs.ts";
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
 * @example
 * ```ts ignore
 * const message = encodeMessage(layout, backend.address, { iov: [payload], control });
 * libc.sendmsg(fd, message.msghdr, flags);
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
 * @example
 * ```ts ignore
 * const { controlLength, flags } = decodeMessageResult(layout, message.msghdr);
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

/**
 * Encodes an array of `struct pollfd`.
 *
 * @param layout The platform's layouts.
 * @param entries The fds and the events to wait for.
 * @returns The array.
 *
 * @example
 * ```ts
 * import { encodePollfds } from "./structs.ts";
 * import { layoutsFor } from "./layout.ts";
 * encodePollfds(layoutsFor({ os: "linux", arch: "x86_64" }), [{ fd: 3, events: 1 }]).byteLength; // 8
 * ```
 */
export function encodePollfds(
  layout: StructLayouts,
  entries: readonly { fd: number; events: number }[],
): Uint8Array {
  const p = layout.pollfd;
  const bytes = cBuffer(Math.max(1, entries.length) * p.size);
  const dv = view(bytes);
  entries.forEach((e, i) => {
    dv.setInt32(i * p.size + p.fd, e.fd, true);
    dv.setInt16(i * p.size + p.events, e.events, true);
  });
  return bytes;
}

/**
 * The `revents` of entry `index` of a pollfd array.
 *
 * @param layout The platform's layouts.
 * @param bytes The array poll(2) filled in.
 * @param index The entry.
 * @returns Its returned events.
 *
 * @example
 * ```ts ignore
 * const revents = pollRevents(layout, fds, 0);
 * ```
 */
export function pollRevents(layout: StructLayouts, bytes: Uint8Array, index: number): number {
  return view(bytes).getInt16(index * layout.pollfd.size + layout.pollfd.revents, true) & 0xffff;
}

/**
 * Encodes a `struct epoll_event`.
 *
 * @param layout The platform's layouts (Linux).
 * @param events The event mask.
 * @param data The 64-bit user data.
 * @returns The struct.
 * @throws {HandoverError} `ENOTSUP` where there is no epoll.
 *
 * @example
 * ```ts
 * import { encodeEpollEvent } from "./structs.ts";
 * import { layoutsFor } from "./layout.ts";
 * encodeEpollEvent(layoutsFor({ os: "linux", arch: "aarch64" }), 1, 5n).byteLength; // 16
 * ```
 */
export function encodeEpollEvent(layout: StructLayouts, events: number, data: bigint): Uint8Array {
  const e = layout.epollEvent;
  if (e === undefined) throw new HandoverError("ENOTSUP", "epoll exists only on Linux");
  const bytes = cBuffer(e.size);
  const dv = view(bytes);
  dv.setUint32(e.events, events >>> 0, true);
  dv.setBigUint64(e.data, BigInt.asUintN(64, data), true);
  return bytes;
}

/**
 * Reads the file type bits and inode from a filled `struct statx` (Linux) or `struct stat` (Darwin).
 *
 * @param layout The platform's layouts.
 * @param bytes The struct the call filled in.
 * @returns `st_mode` and `st_ino`.
 *
 * @example
 * ```ts ignore
 * const { mode } = decodeStat(layout, buffer);
 * ```
 */
export function decodeStat(layout: StructLayouts, bytes: Uint8Array): { mode: number; ino: bigint } {
  const dv = view(bytes);
  return { mode: dv.getUint16(layout.stat.mode, true), ino: dv.getBigUint64(layout.stat.ino, true) };
}

/**
 * Reads a native-endian `int` at `offset`.
 *
 * @param bytes The buffer.
 * @param offset The byte offset.
 * @returns The value.
 *
 * @example
 * ```ts
 * import { readInt32 } from "./structs.ts";
 * readInt32(new Uint8Array([7, 0, 0, 0]), 0); // 7
 * ```
 */
export function readInt32(bytes: Uint8Array, offset: number): number {
  return view(bytes).getInt32(offset, true);
}

/**
 * Writes a native-endian `int` at `offset`.
 *
 * @param bytes The buffer.
 * @param offset The byte offset.
 * @param value The value.
 *
 * @example
 * ```ts
 * import { writeInt32 } from "./structs.ts";
 * const b = new Uint8Array(4);
 * writeInt32(b, 0, 7);
 * ```
 */
export function writeInt32(bytes: Uint8Array, offset: number, value: number): void {
  view(bytes).setInt32(offset, value, true);
}

/**
 * Reads a native-endian 64-bit unsigned value at `offset`.
 *
 * @param bytes The buffer.
 * @param offset The byte offset.
 * @returns The value.
 *
 * @example
 * ```ts
 * import { readUint64 } from "./structs.ts";
 * readUint64(new Uint8Array(8), 0); // 0n
 * ```
 */
export function readUint64(bytes: Uint8Array, offset: number): bigint {
  return view(bytes).getBigUint64(offset, true);
}
