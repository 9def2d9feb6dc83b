/**
 * Socket streams in Bun: `Bun.connect({ fd })` wraps a connected socket fd
 * (Bun's `node:net` `Socket({ fd })` does not work).
 *
 * @module
 */

import { HandoverError } from "../../src/sys/errors.ts";
import type { SocketStream } from "../../src/types.ts";

/** The part of Bun's socket API this adapter uses (typed here so that every checker reads this file). */
interface BunSocket {
  readonly readyState: number;
  write(data: Uint8Array): number;
  pause(): void;
  resume(): void;
  shutdown(halfClose?: boolean): void;
  end(): void;
  terminate(): void;
}

interface BunConnect {
  connect(options: {
    fd: number;
    allowHalfOpen: boolean;
    socket: {
      binaryType: "uint8array";
      data(socket: BunSocket, chunk: Uint8Array): void;
      drain(socket: BunSocket): void;
      end(socket: BunSocket): void;
      close(socket: BunSocket, error?: Error): void;
      error(socket: BunSocket, error: Error): void;
    };
  }): Promise<BunSocket>;
}

const Bun = (globalThis as unknown as { Bun: BunConnect }).Bun;

/**
 * Wraps a connected stream socket fd as web streams; the stream owns the fd.
 *
 * @param fd The connected socket.
 * @returns The streams.
 */
export async function openSocketStream(fd: number): Promise<SocketStream> {
  let readController!: ReadableStreamDefaultController<Uint8Array>;
  // Filled once Bun.connect resolves; the readable's first pull comes before that.
  const connected: { socket?: { resume(): void; terminate(): void } } = {};
  let drained: (() => void) | undefined;
  let closed = false;
  let closedResolve!: () => void;
  const whenClosed = new Promise<void>((resolve) => closedResolve = resolve);
  const finish = (error?: unknown) => {
    if (!closed) {
      closed = true;
      try {
        if (error !== undefined) readController.error(error);
        else readController.close();
      } catch { /* the reader already ended */ }
    }
    drained?.();
  };
  const readable = new ReadableStream<Uint8Array>({
    start(controller) {
      readController = controller;
    },
    pull() {
      connected.socket?.resume();
    },
    cancel() {
      connected.socket?.terminate();
    },
  }, { highWaterMark: 16 });
  const socket = await Bun.connect({
    fd,
    allowHalfOpen: true,
    socket: {
      binaryType: "uint8array",
      data(s, chunk) {
        readController.enqueue(chunk);
        if ((readController.desiredSize ?? 1) <= 0) s.pause();
      },
      drain() {
        drained?.();
      },
      end() {
        finish();
      },
      close(_s, error) {
        finish(error ?? undefined);
        closedResolve();
      },
      error(_s, error) {
        finish(error);
      },
    },
  });
  connected.socket = socket;
  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      let rest = chunk;
      while (rest.byteLength > 0) {
        if (socket.readyState <= 0) {
          throw new HandoverError("EPIPE", "The socket is closed: nothing more can be written");
        }
        const written = socket.write(rest);
        rest = rest.subarray(Math.max(0, written));
        if (rest.byteLength > 0) await new Promise<void>((resolve) => drained = resolve);
      }
    },
    close() {
      socket.shutdown();
    },
    abort() {
      socket.terminate();
    },
  });
  const close = () => {
    if (socket.readyState !== 0) socket.end();
    return whenClosed;
  };
  return { readable, writable, close };
}
