/**
 * Socket streams in Node and Deno: `node:net` wraps an fd with `Socket({ fd })`
 * (Deno's Node compatibility layer supports it too).
 *
 * @module
 */

import { createRequire } from "node:module";
import type netModule from "node:net";
import type { SocketStream } from "../../src/types.ts";

// Required at first use, not imported: where this file is bundled into one module with the rest of the
// library (dist/bun.js), an import would load node:net at start-up (6 to 9 ms in Bun).
let net: typeof netModule | undefined;

/**
 * Wraps a connected stream socket fd as web streams; the stream owns the fd.
 *
 * @param fd The connected socket.
 * @returns The streams.
 */
export function openSocketStream(fd: number): Promise<SocketStream> {
  net ??= createRequire(import.meta.url)("node:net") as typeof netModule;
  const socket = new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
  const readable = new ReadableStream<Uint8Array>({
    start(controller) {
      socket.on("data", (chunk: Uint8Array) => {
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 1) <= 0) socket.pause();
      });
      socket.once("end", () => {
        try {
          controller.close();
        } catch { /* already cancelled */ }
      });
      socket.once("error", (error) => {
        try {
          controller.error(error);
        } catch { /* already closed */ }
      });
    },
    pull() {
      socket.resume();
    },
    cancel() {
      socket.destroy();
    },
  }, { highWaterMark: 16 });
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      return new Promise((resolve, reject) => socket.write(chunk, (error) => error ? reject(error) : resolve()));
    },
    close() {
      return new Promise((resolve) => socket.end(resolve));
    },
    abort() {
      socket.destroy();
    },
  });
  const close = () =>
    new Promise<void>((resolve) => {
      if (socket.destroyed) return resolve();
      socket.once("close", () => resolve());
      socket.destroy();
    });
  return Promise.resolve({ readable, writable, close });
}
