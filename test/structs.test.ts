import assert from "node:assert/strict";
import { it } from "node:test";
import { DARWIN, LINUX } from "../src/sys/constants.ts";
import { layoutsFor } from "../src/sys/layout.ts";
import { controlSpace, decodeControl, decodeMessageResult, encodeControl, encodeMessage } from "../src/sys/msghdr.ts";
import { decodeSocketAddress, encodeSocketAddress, formatIPv6, parseIPv6 } from "../src/sys/sockaddr.ts";
import { encodeEpollEvent } from "../src/sys/poll.ts";
import type { SocketAddress } from "../src/sys/../types.ts";
import { HandoverError } from "../mod.ts";

const linux = layoutsFor({ os: "linux", arch: "x86_64" });
const linuxArm = layoutsFor({ os: "linux", arch: "aarch64" });
const darwin = layoutsFor({ os: "darwin", arch: "aarch64" });

it("sockaddr_un: a path is family, path and NUL; an abstract name has no trailing padding", () => {
  const path = encodeSocketAddress(linux, LINUX, { family: "unix", path: "/run/x.sock" });
  assert.equal(path.length, 2 + 11 + 1);
  assert.deepEqual([...path.bytes.subarray(0, 3)], [1, 0, "/".charCodeAt(0)]);
  const abstract = encodeSocketAddress(linux, LINUX, { family: "unix", path: "@sd" });
  assert.equal(abstract.length, 2 + 1 + 2);
  assert.deepEqual([...abstract.bytes.subarray(0, 5)], [1, 0, 0, "s".charCodeAt(0), "d".charCodeAt(0)]);
  assert.deepEqual(decodeSocketAddress(linux, LINUX, abstract.bytes, abstract.length), { family: "unix", path: "@sd" });
  assert.deepEqual(decodeSocketAddress(linux, LINUX, path.bytes, path.length), { family: "unix", path: "/run/x.sock" });
});

it("sockaddr_un on Darwin sets sun_len and a one-byte family", () => {
  const { bytes, length } = encodeSocketAddress(darwin, DARWIN, { family: "unix", path: "/tmp/a" });
  assert.equal(bytes[0], length);
  assert.equal(bytes[1], DARWIN.AF_UNIX);
  assert.deepEqual(decodeSocketAddress(darwin, DARWIN, bytes, length), { family: "unix", path: "/tmp/a" });
  assert.throws(
    () => encodeSocketAddress(darwin, DARWIN, { family: "unix", path: "@abstract" }),
    (e: unknown) => e instanceof HandoverError && e.code === "EAFNOSUPPORT",
  );
});

it("sockaddr_un refuses a path longer than sun_path holds with ENAMETOOLONG", () => {
  encodeSocketAddress(linux, LINUX, { family: "unix", path: `/${"a".repeat(106)}` });
  assert.throws(
    () => encodeSocketAddress(linux, LINUX, { family: "unix", path: `/${"a".repeat(107)}` }),
    (e: unknown) => e instanceof HandoverError && e.code === "ENAMETOOLONG" && /108 bytes.*at most 107/.test(e.message),
  );
  assert.throws(
    () => encodeSocketAddress(darwin, DARWIN, { family: "unix", path: `/${"a".repeat(103)}` }),
    (e: unknown) => e instanceof HandoverError && e.code === "ENAMETOOLONG",
  );
});

it("sockaddr_in and sockaddr_in6 round-trip with big-endian ports", () => {
  const cases: SocketAddress[] = [
    { family: "inet", address: "127.0.0.1", port: 8080 },
    { family: "inet6", address: "::1", port: 443 },
    { family: "inet6", address: "fe80::1", port: 1, scopeId: 2 },
  ];
  for (const layout of [linux, darwin]) {
    const c = layout === darwin ? DARWIN : LINUX;
    for (const address of cases) {
      const { bytes, length } = encodeSocketAddress(layout, c, address);
      assert.deepEqual(decodeSocketAddress(layout, c, bytes, length), address);
    }
  }
  const { bytes } = encodeSocketAddress(linux, LINUX, { family: "inet", address: "10.0.0.1", port: 0x1234 });
  assert.deepEqual([...bytes.subarray(0, 8)], [2, 0, 0x12, 0x34, 10, 0, 0, 1]);
  assert.throws(() => encodeSocketAddress(linux, LINUX, { family: "inet", address: "1.2.3", port: 1 }), TypeError);
  assert.throws(
    () => encodeSocketAddress(linux, LINUX, { family: "inet", address: "1.2.3.4", port: 70000 }),
    RangeError,
  );
});

it("IPv6 addresses format in RFC 5952 form", () => {
  const cases: [string, string][] = [
    ["0:0:0:0:0:0:0:1", "::1"],
    ["::", "::"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:0db8:0000:0000:0000:ff00:0042:8329", "2001:db8::ff00:42:8329"],
    ["::ffff:127.0.0.1", "::ffff:127.0.0.1"],
    ["1:0:1:1:1:1:1:1", "1:0:1:1:1:1:1:1"],
  ];
  for (const [input, expected] of cases) assert.equal(formatIPv6(parseIPv6(input)), expected, input);
  for (const bad of ["1::2::3", "12345::", "1:2:3:4:5:6:7", "::g"]) assert.throws(() => parseIPv6(bad), TypeError, bad);
});

it("sockaddr_vm encodes the CID and port (Linux only)", () => {
  const { bytes, length } = encodeSocketAddress(linux, LINUX, { family: "vsock", cid: 2, port: 1234 });
  assert.equal(length, 16);
  assert.deepEqual(decodeSocketAddress(linux, LINUX, bytes, length), { family: "vsock", cid: 2, port: 1234 });
  assert.throws(
    () => encodeSocketAddress(darwin, DARWIN, { family: "vsock", cid: 2, port: 1 }),
    (e: unknown) => e instanceof HandoverError && e.code === "EAFNOSUPPORT",
  );
});

it("CMSG_SPACE follows the platform: 8-byte alignment on Linux, 4 on Darwin", () => {
  assert.equal(controlSpace(linux.cmsghdr, 4), 24);
  assert.equal(controlSpace(linux.cmsghdr, 12), 32);
  assert.equal(controlSpace(darwin.cmsghdr, 4), 16);
  assert.equal(controlSpace(darwin.cmsghdr, 8), 20);
});

it("control messages put SCM_RIGHTS before SCM_CREDENTIALS and decode back", () => {
  const bytes = encodeControl(linux, LINUX, { fds: [5, 6, 7], credentials: { pid: 42, uid: 1000, gid: 100 } });
  assert.equal(bytes.byteLength, controlSpace(linux.cmsghdr, 12) + controlSpace(linux.cmsghdr, 12));
  const dv = new DataView(bytes.buffer, bytes.byteOffset);
  assert.equal(Number(dv.getBigUint64(0, true)), 16 + 12);
  assert.equal(dv.getInt32(8, true), LINUX.SOL_SOCKET);
  assert.equal(dv.getInt32(12, true), LINUX.SCM_RIGHTS);
  assert.equal(dv.getInt32(32 + 12, true), LINUX.SCM_CREDENTIALS);
  const decoded = decodeControl(linux, LINUX, bytes, bytes.byteLength);
  assert.deepEqual(decoded, { fds: [5, 6, 7], credentials: { pid: 42, uid: 1000, gid: 100 } });
  const mac = encodeControl(darwin, DARWIN, { fds: [9] });
  assert.equal(mac.byteLength, 16);
  assert.deepEqual(decodeControl(darwin, DARWIN, mac, mac.byteLength).fds, [9]);
  assert.throws(
    () => encodeControl(darwin, DARWIN, { credentials: { pid: 1, uid: 0, gid: 0 } }),
    (e: unknown) => e instanceof HandoverError && e.code === "ENOTSUP",
  );
});

it("decodeControl() stops at a truncated header instead of reading past the buffer", () => {
  const bytes = encodeControl(linux, LINUX, { fds: [5] });
  assert.deepEqual(decodeControl(linux, LINUX, bytes, 10).fds, []);
  const dv = new DataView(bytes.buffer, bytes.byteOffset);
  dv.setBigUint64(0, 1000n, true);
  assert.deepEqual(decodeControl(linux, LINUX, bytes, bytes.byteLength).fds, []);
});

it("struct epoll_event is packed (12 bytes) on x86_64 and padded (16) on aarch64", () => {
  const x86 = encodeEpollEvent(linux, 0x1, 0x1122334455667788n);
  assert.equal(x86.byteLength, 12);
  assert.equal(new DataView(x86.buffer).getBigUint64(4, true), 0x1122334455667788n);
  const arm = encodeEpollEvent(linuxArm, 0x1, 7n);
  assert.equal(arm.byteLength, 16);
  assert.equal(new DataView(arm.buffer).getBigUint64(8, true), 7n);
  assert.throws(() => encodeEpollEvent(darwin, 1, 0n), HandoverError);
});

it("struct msghdr points at the iovec, name and control buffers", () => {
  const addresses = new Map<Uint8Array, bigint>();
  let next = 0x1000n;
  const address = (b: Uint8Array) => {
    if (!addresses.has(b)) addresses.set(b, next += 0x100n);
    return addresses.get(b)!;
  };
  const payload = new Uint8Array([1, 2, 3]);
  const control = encodeControl(linux, LINUX, { fds: [3] });
  const name = encodeSocketAddress(linux, LINUX, { family: "unix", path: "@n" });
  const { msghdr, parts } = encodeMessage(linux, address, { iov: [payload], control, name });
  const dv = new DataView(msghdr.buffer, msghdr.byteOffset);
  assert.equal(msghdr.byteLength, 56);
  assert.equal(dv.getBigUint64(0, true), address(name.bytes));
  assert.equal(dv.getUint32(8, true), name.length);
  const iovec = parts[0]!;
  assert.equal(dv.getBigUint64(16, true), address(iovec));
  assert.equal(dv.getBigUint64(24, true), 1n);
  assert.equal(dv.getBigUint64(32, true), address(control));
  assert.equal(dv.getBigUint64(40, true), BigInt(control.byteLength));
  const iv = new DataView(iovec.buffer, iovec.byteOffset);
  assert.equal(iv.getBigUint64(0, true), address(payload));
  assert.equal(iv.getBigUint64(8, true), 3n);
  dv.setBigUint64(40, 24n, true);
  dv.setInt32(48, LINUX.MSG_CTRUNC, true);
  assert.deepEqual(decodeMessageResult(linux, msghdr), {
    nameLength: name.length,
    controlLength: 24,
    flags: LINUX.MSG_CTRUNC,
  });
  const mac = encodeMessage(darwin, address, { iov: [payload] });
  assert.equal(mac.msghdr.byteLength, 48);
});
