// A real sd_notify receiver for the tests: an AF_UNIX SOCK_DGRAM socket with
// SO_PASSCRED at a path or an abstract name, read with our own recvmsg(2),
// as systemd's manager_dispatch_notify_fd() reads its notify socket.
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { close, waitForFd } from "../mod.ts";
import { closeNotifySocket } from "../src/notify/transport.ts";
import { bindSocket, openSocket, setIntOption } from "../src/fd/socket.ts";
import { cBuffer, readInt32 } from "../src/sys/memory.ts";
import { controlSpace, decodeControl, decodeMessageResult, encodeMessage } from "../src/sys/msghdr.ts";
import type { Credentials } from "../src/sys/../types.ts";
import { check, failure, system } from "../src/ffi/system.ts";

const decoder = new TextDecoder();

/** One datagram as the receiver got it. */
export interface Notification {
  readonly bytes: Uint8Array;
  readonly text: string;
  /** Received fds (close-on-exec); the caller closes them. */
  readonly fds: number[];
  readonly credentials: Credentials | undefined;
  /** `msg_controllen`: the size of all ancillary data. */
  readonly controlLength: number;
  readonly truncated: boolean;
}

export class NotifyReceiver {
  readonly fd: number;
  /** The NOTIFY_SOCKET value that reaches it. */
  readonly address: string;
  private readonly path: string | undefined;

  private constructor(fd: number, address: string, path: string | undefined) {
    this.fd = fd;
    this.address = address;
    this.path = path;
  }

  /** Binds a receiver at a fresh filesystem path or abstract name. */
  static open(kind: "path" | "abstract" = "path"): NotifyReceiver {
    const { c } = system();
    const id = `${process.pid}-${randomBytes(6).toString("hex")}`;
    const address = kind === "path" ? join(tmpdir(), `ho-notify-${id}.sock`) : `@ho-notify-${id}`;
    const fd = openSocket("unix", "dgram");
    try {
      bindSocket(fd, { family: "unix", path: address });
      setIntOption(fd, c.SOL_SOCKET, c.SO_PASSCRED, 1);
    } catch (error) {
      close(fd);
      throw error;
    }
    return new NotifyReceiver(fd, address, kind === "path" ? address : undefined);
  }

  /** One datagram if one is queued, else undefined. */
  tryReceive(): Notification | undefined {
    const { libc, c, layout, backend } = system();
    const data = cBuffer(8192);
    const control = cBuffer(controlSpace(layout.cmsghdr, 253 * 4) + controlSpace(layout.cmsghdr, 12));
    const message = encodeMessage(layout, backend.address, { iov: [data], control });
    for (;;) {
      const n = libc.recvmsg(this.fd, message.msghdr, c.MSG_CMSG_CLOEXEC | c.MSG_DONTWAIT);
      const error = failure(n, "recvmsg");
      if (error?.code === "EINTR") continue;
      if (error?.code === "EAGAIN") return undefined;
      if (error !== undefined) throw error;
      const result = decodeMessageResult(layout, message.msghdr);
      const { fds, credentials } = decodeControl(layout, c, control, result.controlLength);
      const bytes = data.slice(0, n);
      return {
        bytes,
        text: decoder.decode(bytes),
        fds,
        credentials,
        controlLength: result.controlLength,
        truncated: (result.flags & (c.MSG_TRUNC | c.MSG_CTRUNC)) !== 0,
      };
    }
  }

  /** Waits (bounded) for one datagram. */
  async receive(timeoutMs = 10_000): Promise<Notification> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = this.tryReceive();
      if (got !== undefined) return got;
      await waitForFd(this.fd, "readable", { timeoutMs: Math.max(0, deadline - Date.now()) });
    }
  }

  /** Reads everything queued now, closing any fds that came with it. */
  drain(): string[] {
    const texts: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      const got = this.tryReceive();
      if (got === undefined) break;
      got.fds.forEach(close);
      texts.push(got.text);
    }
    return texts;
  }

  close(): void {
    close(this.fd);
    if (this.path !== undefined) rmSync(this.path, { force: true });
  }
}

/** Points NOTIFY_SOCKET at `value` (or removes it) and drops the kept socket. */
export function useNotifySocket(value: string | undefined): void {
  if (value === undefined) delete process.env.NOTIFY_SOCKET;
  else process.env.NOTIFY_SOCKET = value;
}

/** Runs `body` with NOTIFY_SOCKET pointing at a fresh receiver; cleans up after. */
export async function withReceiver(
  kind: "path" | "abstract",
  body: (receiver: NotifyReceiver) => void | Promise<void>,
): Promise<void> {
  const receiver = NotifyReceiver.open(kind);
  useNotifySocket(receiver.address);
  try {
    await body(receiver);
  } finally {
    useNotifySocket(undefined);
    closeNotifySocket();
    receiver.drain();
    receiver.close();
  }
}

/** A pipe, both ends close-on-exec. */
export function pipe(): [number, number] {
  const { libc, c } = system();
  const fds = cBuffer(8);
  check(libc.pipe2(fds, c.O_CLOEXEC), "pipe2");
  return [readInt32(fds, 0), readInt32(fds, 4)];
}

const encoder = new TextEncoder();

export function writeText(fd: number, text: string): void {
  const bytes = cBuffer(text.length * 3);
  const { written } = encoder.encodeInto(text, bytes);
  check(system().libc.write(fd, bytes, written), "write");
}

export function readText(fd: number): string {
  const bytes = cBuffer(4096);
  const n = check(system().libc.read(fd, bytes, 4096), "read");
  return decoder.decode(bytes.subarray(0, n));
}
