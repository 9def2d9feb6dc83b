import assert from "node:assert/strict";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { existsSync, rmSync } from "node:fs";
import { it } from "node:test";
import { close, createListener, describeFd, fdFlags, HandoverError } from "../mod.ts";
import { guarded, RUNTIME } from "./_helpers.ts";

function connect(options: net.NetConnectOpts): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(options, () => {
      socket.destroy();
      resolve();
    });
    socket.on("error", reject);
  });
}

it(
  "createListener() binds and listens on a free loopback port, close-on-exec and non-blocking",
  guarded(async () => {
    const fd = createListener({ port: 0 });
    const described = describeFd(fd);
    assert.equal(described.type, "stream");
    assert.equal(described.family, "inet");
    assert.equal(described.listening, true);
    assert.deepEqual(fdFlags(fd), { closeOnExec: true, nonBlocking: true });
    const address = described.address as { address: string; port: number };
    assert.equal(address.address, "127.0.0.1");
    assert.ok(address.port > 0);
    // A client's connection lands in its queue.
    await connect({ host: "127.0.0.1", port: address.port });
    close(fd);
  }),
);

it(
  "createListener() takes IPv6, UDP and unix path sockets",
  guarded(() => {
    const v6 = createListener({ hostname: "::1", port: 0 });
    assert.equal(describeFd(v6).family, "inet6");
    close(v6);
    const udp = createListener({ port: 0, type: "dgram" });
    assert.deepEqual([describeFd(udp).type, describeFd(udp).listening], ["dgram", false]);
    close(udp);
    const path = join(tmpdir(), `handover-listener-${RUNTIME}-${process.pid}.sock`);
    const unix = createListener({ path, type: "seqpacket" });
    try {
      assert.deepEqual(describeFd(unix).address, { family: "unix", path });
      assert.equal(describeFd(unix).type, "seqpacket");
    } finally {
      close(unix);
      rmSync(path, { force: true });
    }
    assert.equal(existsSync(path), false);
  }),
);

it(
  "createListener() fails with EADDRINUSE from bind(2) on a taken port and leaks nothing",
  guarded(() => {
    const first = createListener({ port: 0 });
    const { port } = describeFd(first).address as { port: number };
    assert.throws(() => createListener({ port }), (e: unknown) => {
      assert.ok(e instanceof HandoverError);
      assert.equal(e.code, "EADDRINUSE");
      assert.equal(e.syscall, "bind");
      assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      return true;
    });
    close(first);
  }),
);

it(
  "createListener() rejects missing, double and impossible options with TypeError and RangeError",
  guarded(() => {
    assert.throws(() => createListener({}), TypeError);
    assert.throws(() => createListener({ port: 0, path: "/tmp/x.sock" }), TypeError);
    assert.throws(() => createListener({ port: 0, type: "seqpacket" }), TypeError);
    assert.throws(() => createListener({ port: 70000 }), RangeError);
    assert.throws(() => createListener({ hostname: "not-an-address", port: 0 }), TypeError);
  }),
);
