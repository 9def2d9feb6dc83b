/**
 * Using a connected socket fd (a socketpair end, an `Accept=yes` connection)
 * as a pair of web streams, through each runtime's own socket machinery.
 *
 * @module
 */

import { assertFd } from "./fd.ts";
import { describeFd } from "./inspect.ts";
import { peerAddress } from "./socket.ts";
import { HandoverError } from "../sys/errors.ts";
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
 * @throws {HandoverError} `EBADF` when `fd` is not open, `ENOTSOCK` when it is not a socket, `EPROTOTYPE`
 * when it is not a stream socket, `EINVAL` when it is a listening socket, `ENOTCONN` when it is not connected.
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
  assertConnectedStream(fd);
  const adapter = await loadStreamAdapter();
  return adapter.openSocketStream(fd);
}

/**
 * Checks what each runtime would otherwise misreport (Bun calls a closed fd
 * `ECONNREFUSED`, Node throws its own errors for a file): a connected stream
 * socket, not a listening one.
 */
function assertConnectedStream(fd: number): void {
  const found = describeFd(fd);
  const expected = `Expected a connected stream socket at fd ${fd}`;
  if (found.family === undefined) {
    const what = found.type === "file" ? "a regular file" : found.type === "fifo" ? "a pipe" : "not a socket";
    throw new HandoverError("ENOTSOCK", `${expected}, found ${what}`);
  }
  if (found.type !== "stream") {
    throw new HandoverError("EPROTOTYPE", `${expected}, found a ${found.type} socket`);
  }
  if (found.listening) throw new HandoverError("EINVAL", `${expected}, found a listening socket`);
  try {
    peerAddress(fd);
  } catch (error) {
    if (error instanceof HandoverError && error.code === "ENOTCONN") {
      throw new HandoverError("ENOTCONN", `${expected}, found one that is not connected`, { cause: error });
    }
    throw error;
  }
}
