/**
 * `NOTIFY_SOCKET=vsock:CID:PORT` (and `vsock-stream:`, `vsock-dgram:`,
 * `vsock-seqpacket:`): notifications from a virtual machine to its host's
 * service manager, as sd-daemon.c sends them.
 *
 * @module
 */

import { errnoError } from "../sys/errno.ts";
import { HandoverError } from "../sys/errors.ts";
import { close } from "../fd/fd.ts";
import { type NotifySocketAddress } from "./address.ts";
import { getIntOption, openSocket } from "../fd/socket.ts";
import { cBuffer } from "../sys/memory.ts";
import { encodeSocketAddress } from "../sys/sockaddr.ts";
import { check, failure, system } from "../ffi/system.ts";
import { NOT_SUPPORTED, type Prepared, type Sending, sendOnce, withContext } from "./transport.ts";

const VSOCK_TYPES = ["dgram", "seqpacket", "stream"] as const;

function openVsock(value: string, address: Extract<NotifySocketAddress, { family: "vsock" }>) {
  const { c } = system();
  if (c.AF_VSOCK === 0) {
    throw new HandoverError("EAFNOSUPPORT", `AF_VSOCK exists only on Linux (NOTIFY_SOCKET=${value})`);
  }
  // Plain vsock: tries datagrams, then sequenced packets, then streams (QEMU has no vsock datagrams).
  const types = address.type === undefined ? VSOCK_TYPES : [address.type];
  for (let i = 0;; i++) {
    const type = types[i]!;
    try {
      return { fd: openSocket("vsock", type), type };
    } catch (error) {
      const last = i === types.length - 1;
      if (last || !(error instanceof HandoverError) || !NOT_SUPPORTED.has(error.code)) {
        throw error instanceof HandoverError ? withContext(error, value) : error;
      }
    }
  }
}

// vsock_bind_privileged_port() of sd-daemon.c: a port below 1024 tells the
// host that a privileged process sent this. Unprivileged processes skip it.
function bindPrivilegedVsockPort(fd: number, value: string): void {
  const { libc, c, layout } = system();
  for (let port = 1023; port > 0; port--) {
    const encoded = encodeSocketAddress(layout, c, { family: "vsock", cid: c.VMADDR_CID_ANY, port });
    const error = failure(libc.bind(fd, encoded.bytes, encoded.length), "bind");
    if (error === undefined || error.code === "EPERM" || error.code === "EACCES") return;
    if (error.code !== "EADDRINUSE") throw withContext(error, value);
  }
}

export function* sendVsock(
  value: string,
  address: Extract<NotifySocketAddress, { family: "vsock" }>,
  message: Prepared,
): Sending {
  const { libc, c, layout } = system();
  const { fd, type } = openVsock(value, address);
  try {
    bindPrivilegedVsockPort(fd, value);
    const peer = encodeSocketAddress(layout, c, { family: "vsock", cid: address.cid, port: address.port });
    const connected = type !== "dgram";
    if (connected) {
      for (;;) {
        const error = failure(libc.connect(fd, peer.bytes, peer.length), "connect");
        if (error === undefined) break;
        if (error.code === "EINTR") continue;
        if (error.code !== "EINPROGRESS") throw withContext(error, value);
        yield { fd, what: "writable" };
        const pending = getIntOption(fd, c.SOL_SOCKET, c.SO_ERROR);
        if (pending !== 0) throw errnoError(system().os, "connect", pending, `NOTIFY_SOCKET=${value}`);
        break;
      }
    }
    let withCredentials = message.credentials !== undefined;
    let rest: Prepared = message;
    for (;;) {
      const { sent, error } = sendOnce(fd, rest, withCredentials, connected ? undefined : peer);
      if (error === undefined) {
        if (sent >= rest.bytes.byteLength) break;
        // Only a stream may take part of a message; send the rest without fds or credentials.
        if (type !== "stream") {
          throw new HandoverError("EIO", `sendmsg() sent ${sent} of ${rest.bytes.byteLength} bytes (${value})`);
        }
        rest = { bytes: rest.bytes.subarray(sent), fds: [], credentials: undefined };
        withCredentials = false;
        continue;
      }
      if (error.code === "EINTR") continue;
      if (error.code === "EAGAIN" || error.code === "EWOULDBLOCK") {
        yield { fd, what: "writable" };
        continue;
      }
      if (withCredentials) {
        withCredentials = false;
        continue;
      }
      throw withContext(error, value);
    }
    if (connected) {
      // The receiver reads to the end of the connection, then closes it: wait for that.
      check(libc.shutdown(fd, c.SHUT_WR), "shutdown", `NOTIFY_SOCKET=${value}`);
      const one = cBuffer(1);
      for (;;) {
        const n = libc.read(fd, one, 1);
        if (n === 0) break;
        if (n > 0) {
          throw new HandoverError("EPROTO", `The receiver at NOTIFY_SOCKET=${value} sent data instead of closing`);
        }
        const error = failure(n, "read")!;
        if (error.code === "EINTR") continue;
        if (error.code !== "EAGAIN" && error.code !== "EWOULDBLOCK") throw withContext(error, value);
        yield { fd, what: "readable" };
      }
    }
  } finally {
    close(fd);
  }
}
