/**
 * Using a connected socket fd (a socketpair end, an `Accept=yes` connection)
 * as a pair of web streams, through each runtime's own socket machinery.
 *
 * @module
 */

import { assertFd } from "./fd.ts";
import type { SocketStream } from "../types.ts";
import { loadStreamAdapter } from "../ffi/loader.ts";

export type { SocketStream, StreamAdapterModule } from "../types.ts";

/**
 * Wraps a connected stream socket fd as web streams, using the runtime's
 * own event loop: `node:net` `Socket({ fd })` in Node and Deno,
 * `Bun.connect({ fd })` in Bun. The stream owns the fd from then on: do not
 * {@link close} it yourself, call `stream.close()` or close the writable.
 *
 * @param fd A connected `SOCK_STREAM` socket (a {@link socketpair} end).
 * @returns The streams.
 * @throws {TypeError} When `fd` is not an integer.
 *
 * @example Echo one message over a pair
 * ```ts
 * import { openSocketStream, socketpair } from "../../mod.ts";
 *
 * const [a, b] = socketpair();
 * const left = await openSocketStream(a);
 * const right = await openSocketStream(b);
 * const writer = left.writable.getWriter();
 * await writer.write(new TextEncoder().encode("ping"));
 * await writer.close();
 * const { value } = await right.readable.getReader().read();
 * new TextDecoder().decode(value); // "ping"
 * await left.close();
 * await right.close();
 * ```
 */
export async function openSocketStream(fd: number): Promise<SocketStream> {
  assertFd(fd);
  const adapter = await loadStreamAdapter();
  return adapter.openSocketStream(fd);
}
