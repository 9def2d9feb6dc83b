/**
 * `pollfd` for poll(2) and `epoll_event` for epoll_ctl(2).
 *
 * @module
 */

import { HandoverError } from "./errors.ts";
import type { StructLayouts } from "./layout.ts";
import { cBuffer, view } from "./memory.ts";

/**
 * Encodes an array of `struct pollfd`.
 *
 * @param layout The platform's layouts.
 * @param entries The fds and the events to wait for.
 * @returns The array.
 *
 * @example
 * ```ts
 * import { encodePollfds } from "./poll.ts";
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
 * @example Poll a pair end once
 * ```ts
 * import { close, socketpair } from "../../mod.ts";
 * import { system } from "../ffi/system.ts";
 * import { encodePollfds, pollRevents } from "./poll.ts";
 * const { libc, c, layout } = system();
 * const [a, b] = socketpair();
 * const fds = encodePollfds(layout, [{ fd: a, events: c.POLLIN | c.POLLOUT }]);
 * libc.poll(fds, 1, 0); // 1: one entry has events
 * pollRevents(layout, fds, 0) === c.POLLOUT; // true: writable, nothing to read
 * close(a);
 * close(b);
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
 * import { encodeEpollEvent } from "./poll.ts";
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
