/**
 * The server side of sd_notify(3): the `NOTIFY_SOCKET` a launcher gives its
 * child, receiving `KEY=VALUE\n` datagrams with the sender's credentials
 * (SO_PASSCRED) and any fds passed along (SCM_RIGHTS), as systemd's
 * `manager_dispatch_notify_fd()` (src/core/manager.c) does.
 *
 * @module
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { close } from "../fd/fd.ts";
import { bindSocket, openSocket, setIntOption } from "../fd/socket.ts";
import { cBuffer } from "../sys/memory.ts";
import { controlSpace, decodeControl, decodeMessageResult, type EncodedMessage, encodeMessage } from "../sys/msghdr.ts";
import type { Credentials } from "../sys/../types.ts";
import { failure, system } from "../ffi/system.ts";

/** The most bytes systemd reads of one notification (NOTIFY_BUFFER_MAX is 4096; it drops longer ones). */
export const NOTIFY_MAX_BYTES = 4096;

/** One datagram received on the notify socket. */
export interface NotifyDatagram {
  /** The fields, first occurrence of each key (as systemd's `strv_find_startswith`). */
  readonly fields: ReadonlyMap<string, string>;
  /** The sender's credentials (Linux), undefined where the kernel sent none. */
  readonly credentials: Credentials | undefined;
  /** Fds that came with it, close-on-exec; the receiver of this value owns them. */
  readonly fds: number[];
  /** Why the datagram is not usable (too long, embedded NUL, truncated fds), or undefined. */
  readonly problem: string | undefined;
}

/**
 * Parses a notification payload: lines of `KEY=VALUE`; lines without `=`
 * are ignored, the first value of a key wins.
 *
 * @param text The payload.
 * @returns The fields.
 *
 * @example
 * ```ts
 * import { parseNotifyMessage } from "./notify_receiver.ts";
 * parseNotifyMessage("READY=1\nSTATUS=Serving\n").get("STATUS"); // "Serving"
 * ```
 */
export function parseNotifyMessage(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    if (!fields.has(key)) fields.set(key, line.slice(eq + 1));
  }
  return fields;
}

const decoder = new TextDecoder("utf-8", { fatal: false });

/** The notify socket a launcher listens on. */
export class NotifyReceiver {
  /** The socket's fd (close-on-exec, non-blocking). */
  readonly fd: number;
  /** The value to put in the child's `NOTIFY_SOCKET`: `@name` on Linux, a path elsewhere. */
  readonly address: string;
  private readonly directory: string | undefined;
  private readonly data = cBuffer(NOTIFY_MAX_BYTES + 1);
  private readonly control: Uint8Array;
  private readonly message: EncodedMessage;

  private constructor(fd: number, address: string, directory: string | undefined) {
    this.fd = fd;
    this.address = address;
    this.directory = directory;
    const { layout, backend } = system();
    const credentials = layout.ucred === undefined ? 0 : controlSpace(layout.cmsghdr, layout.ucred.size);
    this.control = cBuffer(credentials + controlSpace(layout.cmsghdr, 253 * 4));
    this.message = encodeMessage(layout, backend.address, { iov: [this.data], control: this.control });
  }

  /**
   * Opens a datagram socket with credentials passing on, bound to a fresh
   * abstract name (Linux) or a path in a private directory (elsewhere).
   *
   * @returns The receiver.
   * @throws {HandoverError} When the socket cannot be created or bound.
   *
   * @example
   * ```ts
   * import "../../mod.ts";
   * import { NotifyReceiver } from "./notify_receiver.ts";
   * const receiver = NotifyReceiver.open();
   * const env = { ...process.env, NOTIFY_SOCKET: receiver.address }; // for the app
   * receiver.close();
   * ```
   */
  static open(): NotifyReceiver {
    const { c, os } = system();
    const fd = openSocket("unix", "dgram");
    try {
      if (c.SO_PASSCRED !== 0) setIntOption(fd, c.SOL_SOCKET, c.SO_PASSCRED, 1);
      // Room for bursts of pings and status lines while the launcher is busy.
      setIntOption(fd, c.SOL_SOCKET, c.SO_RCVBUF, 1 << 20);
      if (os === "linux") {
        const random = Math.floor(Math.random() * 0xffffffff).toString(16).padStart(8, "0");
        const address = `@handover/${system().backend.pid}/${random}`;
        bindSocket(fd, { family: "unix", path: address });
        return new NotifyReceiver(fd, address, undefined);
      }
      const directory = mkdtempSync(join(tmpdir(), "handover-"));
      const address = join(directory, "notify");
      bindSocket(fd, { family: "unix", path: address });
      return new NotifyReceiver(fd, address, directory);
    } catch (error) {
      close(fd);
      throw error;
    }
  }

  /**
   * Reads every queued datagram without waiting.
   *
   * @returns The datagrams, oldest first (empty when none is queued).
   * @throws {HandoverError} When recvmsg fails with anything but EAGAIN.
   *
   * @example
   * ```ts
   * import { notify } from "../../mod.ts";
   * import { NotifyReceiver } from "./notify_receiver.ts";
   * const receiver = NotifyReceiver.open();
   * process.env.NOTIFY_SOCKET = receiver.address;
   * await notify({ ready: true }, { unsetEnv: true });
   * receiver.drain().map((d) => d.fields.get("READY")); // ["1"]
   * receiver.close();
   * ```
   */
  drain(): NotifyDatagram[] {
    const { libc, c, layout } = system();
    const received: NotifyDatagram[] = [];
    // Bounded: the socket buffer holds a finite number of datagrams.
    for (let i = 0; i < 10_000; i++) {
      const m = layout.msghdr;
      const dv = new DataView(this.message.msghdr.buffer, this.message.msghdr.byteOffset);
      if (m.controllenSize === 8) dv.setBigUint64(m.controllen, BigInt(this.control.byteLength), true);
      else dv.setUint32(m.controllen, this.control.byteLength, true);
      dv.setInt32(m.flags, 0, true);
      const n = libc.recvmsg(this.fd, this.message.msghdr, c.MSG_CMSG_CLOEXEC | c.MSG_DONTWAIT | c.MSG_TRUNC);
      const error = failure(n, "recvmsg");
      if (error?.code === "EINTR") continue;
      if (error?.code === "EAGAIN") break;
      if (error !== undefined) throw error;
      const result = decodeMessageResult(layout, this.message.msghdr);
      const { fds, credentials } = decodeControl(layout, c, this.control, result.controlLength);
      let problem: string | undefined;
      const bytes = this.data.subarray(0, Math.min(n, NOTIFY_MAX_BYTES));
      if (n > NOTIFY_MAX_BYTES || (result.flags & c.MSG_TRUNC) !== 0) {
        problem = `a notification of ${n} bytes is longer than ${NOTIFY_MAX_BYTES}`;
      } else if ((result.flags & c.MSG_CTRUNC) !== 0) problem = "a notification carried more fds than 253";
      else if (bytes.includes(0)) problem = "a notification contains a NUL byte";
      const fields = problem === undefined ? parseNotifyMessage(decoder.decode(bytes)) : new Map<string, string>();
      received.push({ fields, credentials, fds, problem });
    }
    return received;
  }

  /**
   * Closes the socket (and removes its directory where it had one).
   *
   * @example
   * ```ts
   * import "../../mod.ts";
   * import { NotifyReceiver } from "./notify_receiver.ts";
   * NotifyReceiver.open().close();
   * ```
   */
  close(): void {
    try {
      close(this.fd);
    } catch {
      // closed already
    }
    if (this.directory !== undefined) rmSync(this.directory, { recursive: true, force: true });
  }
}
