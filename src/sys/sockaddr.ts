/**
 * Socket addresses (`sockaddr_un`, `sockaddr_in`, `sockaddr_in6`, `sockaddr_vm`) encoded and decoded with `DataView` over the platform's named offsets.
 *
 * @module
 */

import type { SystemConstants } from "./constants.ts";
import { HandoverError } from "./errors.ts";
import type { StructLayouts } from "./layout.ts";
import type { SocketAddress } from "../types.ts";
import { cBuffer, decoder, encoder, view } from "./memory.ts";

/** An encoded socket address and the length to pass with it. */
export interface EncodedAddress {
  readonly bytes: Uint8Array;
  /** The `socklen_t` to pass: for Linux abstract names it ends right after the name. */
  readonly length: number;
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
 * import { parseIPv4 } from "./sockaddr.ts";
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
 * import { parseIPv6 } from "./sockaddr.ts";
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
 * import { formatIPv6, parseIPv6 } from "./sockaddr.ts";
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
 * import { encodeSocketAddress } from "./sockaddr.ts";
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
 * import { decodeSocketAddress, encodeSocketAddress } from "./sockaddr.ts";
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
