import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import {
  barrier,
  close,
  extendTimeout,
  fdStore,
  fdStoreRemove,
  formatNotifyState,
  HandoverError,
  mainPid,
  monotonicMicroseconds,
  notify,
  notifyErrno,
  notifySync,
  parseNotifySocket,
  ready,
  receiveFdsSync,
  reloading,
  startWatchdog,
  status,
  stopping,
  watchdog,
  watchdogInterval,
  type WatchdogKeepAlive,
} from "../mod.ts";
import { statFd } from "../src/fd/inspect.ts";
import { closeNotifySocket, notifySocketFd } from "../src/notify/transport.ts";
import { encodeNotifyMessage } from "../src/notify/message.ts";
import { bindSocket, openSocket } from "../src/fd/socket.ts";
import { encodeSocketAddress } from "../src/sys/sockaddr.ts";
import { system } from "../src/ffi/system.ts";
import { FIXTURES, guarded, lastJson, run, runFixture, runtimeArgv, sleep } from "./_helpers.ts";
import { NotifyReceiver, pipe, readText, useNotifySocket, withReceiver, writeText } from "./_notify.ts";

const decoder = new TextDecoder();

const isHandoverError = (code: string, pattern?: RegExp) => (error: unknown): boolean => {
  assert.ok(error instanceof HandoverError, `expected a HandoverError, got ${error}`);
  assert.equal(error.code, code, error.message);
  if (pattern !== undefined) assert.match(error.message, pattern);
  return true;
};

// ---------------------------------------------------------------- NOTIFY_SOCKET

it("parseNotifySocket() reads paths, abstract names and every vsock form", () => {
  assert.deepEqual(parseNotifySocket("/run/systemd/notify"), { family: "unix", path: "/run/systemd/notify" });
  assert.deepEqual(parseNotifySocket("@sd-notify"), { family: "unix", path: "@sd-notify" });
  assert.deepEqual(parseNotifySocket("vsock:2:1024"), { family: "vsock", cid: 2, port: 1024, type: undefined });
  assert.deepEqual(parseNotifySocket("vsock-stream:host:9"), { family: "vsock", cid: 2, port: 9, type: "stream" });
  assert.deepEqual(parseNotifySocket("vsock-dgram:local:0"), { family: "vsock", cid: 1, port: 0, type: "dgram" });
  assert.deepEqual(parseNotifySocket("vsock-seqpacket:hypervisor:4294967294"), {
    family: "vsock",
    cid: 0,
    port: 4294967294,
    type: "seqpacket",
  });
  assert.deepEqual(parseNotifySocket("vsock:4294967294:1"), {
    family: "vsock",
    cid: 4294967294,
    port: 1,
    type: undefined,
  });
  // 107 bytes is the longest path that leaves room for its NUL in sun_path.
  const longest = "/" + "p".repeat(106);
  assert.deepEqual(parseNotifySocket(longest), { family: "unix", path: longest });
});

it("parseNotifySocket() refuses anything else with EINVAL naming the value", () => {
  const bad = [
    "",
    "relative/path",
    "/",
    "@",
    "notify",
    "vsock:",
    "vsock:2",
    "vsock::1024",
    "vsock:2:",
    "vsock:2:port",
    "vsock:x:1",
    "vsock:2:-1",
    "vsock:2:4294967295",
    "vsock:4294967295:1",
    "vsock:2:4294967296",
    "vsock-raw:2:1",
    "@" + "a".repeat(107),
    "tcp:127.0.0.1:80",
  ];
  for (const value of bad) {
    assert.throws(
      () => parseNotifySocket(value),
      (e: unknown) => isHandoverError("EINVAL")(e) && (e as Error).message.includes(JSON.stringify(value)),
      value,
    );
  }
  assert.throws(() => parseNotifySocket("/" + "p".repeat(107)), isHandoverError("ENAMETOOLONG", /108 bytes/));
});

it("an abstract NOTIFY_SOCKET address is the family, a NUL and the name, with no padding", () => {
  const { layout, c } = system();
  const encoded = encodeSocketAddress(layout, c, { family: "unix", path: "@abc" });
  assert.equal(encoded.length, 2 + 1 + 3);
  assert.deepEqual([...encoded.bytes.subarray(0, 6)], [1, 0, 0, 97, 98, 99]);
});

// ---------------------------------------------------------------- messages

it("formatNotifyState() builds KEY=VALUE lines in a fixed order, leaving out false and undefined", () => {
  assert.equal(formatNotifyState({ status: "Serving", ready: true }), "READY=1\nSTATUS=Serving");
  assert.equal(
    formatNotifyState({
      barrier: false,
      fdPoll: false,
      fdName: "web",
      fdStore: true,
      extendTimeoutUsec: 5_000_000n,
      watchdog: "trigger",
      mainPid: 42,
      exitStatus: 3,
      busError: "org.freedesktop.DBus.Error.Failed",
      errno: 2,
      notifyAccess: "all",
      monotonicUsec: 123,
      stopping: false,
      reloading: true,
      ready: undefined,
      watchdogUsec: 2_000_000,
      fdStoreRemove: false,
    }),
    [
      "RELOADING=1",
      "MONOTONIC_USEC=123",
      "NOTIFYACCESS=all",
      "ERRNO=2",
      "BUSERROR=org.freedesktop.DBus.Error.Failed",
      "EXIT_STATUS=3",
      "MAINPID=42",
      "WATCHDOG=trigger",
      "WATCHDOG_USEC=2000000",
      "EXTEND_TIMEOUT_USEC=5000000",
      "FDSTORE=1",
      "FDNAME=web",
      "FDPOLL=0",
    ].join("\n"),
  );
  assert.equal(formatNotifyState({}), "");
});

it("formatNotifyState() rejects unknown keys, wrong types, multi-line STATUS and bad numbers", () => {
  assert.throws(() => formatNotifyState({ redy: true } as never), /Unknown notify key "redy"/);
  assert.throws(() => formatNotifyState({ ready: 1 } as never), TypeError);
  assert.throws(() => formatNotifyState({ status: "two\nlines" }), /one line/);
  assert.throws(() => formatNotifyState({ status: "carriage\rreturn" }), TypeError);
  assert.throws(() => formatNotifyState({ mainPid: 0 }), RangeError);
  assert.throws(() => formatNotifyState({ mainPid: 1.5 }), TypeError);
  assert.throws(() => formatNotifyState({ errno: -1 }), RangeError);
  assert.throws(() => formatNotifyState({ extendTimeoutUsec: 0 }), RangeError);
  assert.throws(() => formatNotifyState({ watchdog: false } as never), TypeError);
  assert.throws(() => formatNotifyState({ notifyAccess: "some" } as never), TypeError);
  assert.throws(() => formatNotifyState({ fdName: "a:b" }), TypeError);
  assert.throws(() => formatNotifyState("READY=1" as never), TypeError);
});

it("message validation: 4096 bytes pass, 4097 do not; NUL, lines without = and bad FDNAME are refused", () => {
  assert.equal(encodeNotifyMessage("X=" + "a".repeat(4094), 0).byteLength, 4096);
  assert.throws(() => encodeNotifyMessage("X=" + "a".repeat(4095), 0), (e: unknown) => {
    assert.ok(e instanceof RangeError);
    assert.match(e.message, /at most 4096 bytes, got 4097/);
    return true;
  });
  // Bytes, not characters: 2048 two-byte characters are 4096 bytes plus the key.
  assert.throws(() => encodeNotifyMessage("S=" + "é".repeat(2048), 0), RangeError);
  assert.throws(() => encodeNotifyMessage("READY=1\0", 0), /without NUL bytes/);
  assert.throws(() => encodeNotifyMessage("READY=1\nnot a pair", 0), /KEY=VALUE.*line 2/);
  assert.throws(() => encodeNotifyMessage("=1", 0), TypeError);
  assert.equal(encodeNotifyMessage("READY=1\n", 0).byteLength, 8);
  assert.equal(encodeNotifyMessage("", 0).byteLength, 0);
  encodeNotifyMessage("FDNAME=" + "n".repeat(255), 0);
  encodeNotifyMessage("FDNAME=", 0);
  encodeNotifyMessage("FDNAME=with space ~!", 0);
  assert.throws(() => encodeNotifyMessage("FDNAME=" + "n".repeat(256), 0), RangeError);
  for (const name of ["a:b", "tab\there", "del\x7f", "ümlaut", "bell\x07"]) {
    assert.throws(() => encodeNotifyMessage(`FDSTORE=1\nFDNAME=${name}`, 1), TypeError, JSON.stringify(name));
  }
  assert.throws(() => encodeNotifyMessage("FDSTORE=1", 254), /at most 253 fds/);
});

// ---------------------------------------------------------------- sending

it(
  "notify() and notifySync() return false and send nothing when NOTIFY_SOCKET is unset",
  guarded(async () => {
    useNotifySocket(undefined);
    assert.equal(await notify("READY=1"), false);
    assert.equal(notifySync({ ready: true }), false);
    assert.equal(await ready("x"), false);
    assert.equal(await barrier(100), false);
    assert.equal(notifySocketFd(), undefined);
  }),
);

it(
  "notifySync() sends the exact bytes to a receiver at a path, with our pid in the credentials",
  guarded(() =>
    withReceiver("path", async (receiver) => {
      const text = "READY=1\nSTATUS=Ünïcødé ✓ and = signs\nX_CUSTOM=a=b\n";
      assert.equal(notifySync(text), true);
      const got = await receiver.receive();
      assert.deepEqual(got.bytes, new TextEncoder().encode(text));
      assert.equal(got.credentials?.pid, process.pid);
      assert.equal(got.credentials?.uid, process.getuid?.());
      assert.equal(got.credentials?.gid, process.getgid?.());
      assert.deepEqual(got.fds, []);
    })
  ),
);

it(
  "notify() reaches a receiver at an abstract name (exact address length)",
  guarded(() =>
    withReceiver("abstract", async (receiver) => {
      assert.ok(receiver.address.startsWith("@"));
      assert.equal(await notify({ ready: true, status: "abstract" }), true);
      const got = await receiver.receive();
      assert.equal(got.text, "READY=1\nSTATUS=abstract");
      assert.equal(got.credentials?.pid, process.pid);
    })
  ),
);

it(
  "a raw string and the typed object for it send the same bytes",
  guarded(() =>
    withReceiver("path", async (receiver) => {
      await notify("STOPPING=1\nSTATUS=Draining");
      await notify({ status: "Draining", stopping: true });
      const [a, b] = [await receiver.receive(), await receiver.receive()];
      assert.deepEqual(a.bytes, b.bytes);
    })
  ),
);

it(
  "one socket is kept and reused, and replaced when NOTIFY_SOCKET changes",
  guarded(() =>
    withReceiver("path", async (first) => {
      await notify("A=1");
      const fd = notifySocketFd();
      assert.ok(fd !== undefined);
      await notify("A=2");
      notifySync("A=3");
      assert.equal(notifySocketFd(), fd);
      assert.deepEqual(first.drain(), ["A=1", "A=2", "A=3"]);
      const second = NotifyReceiver.open("abstract");
      try {
        useNotifySocket(second.address);
        await notify("B=1");
        assert.equal((await second.receive()).text, "B=1");
        assert.equal(first.tryReceive(), undefined);
        // The first socket was closed (its number may be reused by the new one).
        assert.equal(system().libc.fcntl(fd!, system().c.F_GETFD, 0) >= 0, notifySocketFd() === fd);
      } finally {
        useNotifySocket(first.address);
        closeNotifySocket();
        second.close();
      }
    })
  ),
);

it(
  "when the receiver goes away and comes back at the same path, the next message reconnects and arrives",
  guarded(async () => {
    const first = NotifyReceiver.open("path");
    const path = first.address;
    useNotifySocket(path);
    try {
      await notify("N=1");
      assert.equal((await first.receive()).text, "N=1");
      first.close();
      await assert.rejects(notify("N=lost"), isHandoverError("ENOENT", /NOTIFY_SOCKET=/));
      // A new receiver bound at the same path.
      const fd = openSocket("unix", "dgram");
      try {
        bindSocket(fd, { family: "unix", path });
        assert.equal(await notify("N=2"), true);
        assert.equal(notifySync("N=3"), true);
        assert.equal(decoder.decode(receiveFdsSync(fd).data), "N=2");
        assert.equal(decoder.decode(receiveFdsSync(fd).data), "N=3");
      } finally {
        close(fd);
      }
    } finally {
      useNotifySocket(undefined);
      closeNotifySocket();
      rmSync(path, { force: true });
    }
  }),
);

it(
  "a stale connection (receiver replaced while connected) is re-made once, without losing the message",
  guarded(async () => {
    const first = NotifyReceiver.open("abstract");
    useNotifySocket(first.address);
    try {
      await notify("S=1");
      assert.equal((await first.receive()).text, "S=1");
      const kept = notifySocketFd();
      first.close();
      // Same abstract name, new socket: the kept connection points at the dead one.
      const fd = openSocket("unix", "dgram");
      try {
        bindSocket(fd, { family: "unix", path: first.address });
        assert.equal(await notify("S=2"), true);
        assert.ok(kept !== undefined);
        assert.equal(decoder.decode(receiveFdsSync(fd).data), "S=2");
      } finally {
        close(fd);
      }
    } finally {
      useNotifySocket(undefined);
      closeNotifySocket();
    }
  }),
);

it(
  "passed fds arrive and work: the receiver writes through a passed pipe end",
  guarded(() =>
    withReceiver("path", async (receiver) => {
      const [readEnd, writeEnd] = pipe();
      const [otherRead, otherWrite] = pipe();
      try {
        assert.equal(await notify({ fdStore: true, fdName: "pipes" }, { fds: [writeEnd, otherWrite] }), true);
        const got = await receiver.receive();
        assert.equal(got.text, "FDSTORE=1\nFDNAME=pipes");
        assert.equal(got.fds.length, 2);
        assert.equal(got.credentials?.pid, process.pid);
        assert.equal(statFd(got.fds[0]!).ino, statFd(writeEnd).ino);
        writeText(got.fds[0]!, "through the store");
        writeText(got.fds[1]!, "second");
        got.fds.forEach(close);
        assert.equal(readText(readEnd), "through the store");
        assert.equal(readText(otherRead), "second");
        // The fds stay open here.
        assert.ok(statFd(writeEnd).ino > 0n);
      } finally {
        [readEnd, writeEnd, otherRead, otherWrite].forEach(close);
      }
    })
  ),
);

it(
  "253 fds go in one message; 254 are refused with a RangeError and nothing is sent",
  guarded(() =>
    withReceiver("path", async (receiver) => {
      const [readEnd, writeEnd] = pipe();
      try {
        const many = new Array(253).fill(writeEnd);
        assert.equal(notifySync("FDSTORE=1\nFDNAME=many", { fds: many }), true);
        const got = await receiver.receive();
        assert.equal(got.fds.length, 253);
        assert.equal(got.truncated, false);
        got.fds.forEach(close);
        assert.throws(() => notifySync("FDSTORE=1", { fds: [...many, writeEnd] }), RangeError);
        await assert.rejects(notify("FDSTORE=1", { fds: [...many, writeEnd] }), RangeError);
        assert.equal(receiver.tryReceive(), undefined);
      } finally {
        close(readEnd);
        close(writeEnd);
      }
    })
  ),
);

it(
  "oversize, NUL, non-KEY=VALUE and bad FDNAME messages are refused and never sent",
  guarded(() =>
    withReceiver("path", async (receiver) => {
      const [readEnd, writeEnd] = pipe();
      try {
        await assert.rejects(notify("STATUS=" + "x".repeat(4090)), RangeError);
        assert.throws(() => notifySync("READY=1\0STATUS=x"), TypeError);
        await assert.rejects(notify("READY"), TypeError);
        await assert.rejects(notify({ status: "a\nREADY=1" }), TypeError);
        await assert.rejects(notify("FDSTORE=1\nFDNAME=bad:name", { fds: [writeEnd] }), TypeError);
        await assert.rejects(fdStore("x".repeat(256), [writeEnd]), RangeError);
        await assert.rejects(fdStore("ok", []), RangeError);
        await assert.rejects(notify({ bogus: 1 } as never), /Unknown notify key/);
        await assert.rejects(notify("A=1", { fds: [-1] }), RangeError);
        await assert.rejects(notify("A=1", { pid: 0 }), RangeError);
        assert.equal(receiver.tryReceive(), undefined);
        // A closed fd is refused by the kernel, which sends nothing either.
        await assert.rejects(notify("A=1", { fds: [987654] }), isHandoverError("EBADF"));
        assert.equal(receiver.tryReceive(), undefined);
      } finally {
        close(readEnd);
        close(writeEnd);
      }
    })
  ),
);

it(
  "with no receiver: ENOENT for a missing path, ECONNREFUSED for a dead socket file or abstract name",
  guarded(async () => {
    const missing = join(tmpdir(), `ho-notify-missing-${process.pid}.sock`);
    try {
      useNotifySocket(missing);
      await assert.rejects(notify("READY=1"), isHandoverError("ENOENT", /connect\(\).*NOTIFY_SOCKET=/));
      assert.throws(() => notifySync("READY=1"), isHandoverError("ENOENT"));
      const dead = NotifyReceiver.open("path");
      // Close the socket but keep its file: nothing listens there any more.
      close(dead.fd);
      useNotifySocket(dead.address);
      await assert.rejects(notify("READY=1"), isHandoverError("ECONNREFUSED"));
      rmSync(dead.address);
      useNotifySocket(`@ho-notify-nobody-${process.pid}`);
      await assert.rejects(notify("READY=1"), isHandoverError("ECONNREFUSED"));
      assert.equal(notifySocketFd(), undefined);
    } finally {
      useNotifySocket(undefined);
      closeNotifySocket();
    }
  }),
);

it(
  "a malformed NOTIFY_SOCKET rejects with EINVAL naming the value",
  guarded(async () => {
    try {
      for (const value of ["relative.sock", "", "vsock:nope:1"]) {
        useNotifySocket(value);
        await assert.rejects(notify("READY=1"), isHandoverError("EINVAL", new RegExp(JSON.stringify(value))));
        assert.throws(() => notifySync("READY=1"), isHandoverError("EINVAL"));
      }
    } finally {
      useNotifySocket(undefined);
    }
  }),
);

it(
  "unsetEnv removes NOTIFY_SOCKET (also for children), closes the socket, and happens even when sending fails",
  guarded(async () => {
    await withReceiver("path", async (receiver) => {
      assert.equal(await ready("bye", { unsetEnv: true }), true);
      assert.equal((await receiver.receive()).text, "READY=1\nSTATUS=bye");
      assert.equal(process.env.NOTIFY_SOCKET, undefined);
      assert.equal(notifySocketFd(), undefined);
      const child = await run("/bin/sh", ["-c", 'printf "%s" "${NOTIFY_SOCKET-unset}"'], { env: undefined });
      assert.equal(child.stdout, "unset");
      assert.equal(await notify("READY=1"), false);
    });
    useNotifySocket("not absolute");
    assert.throws(() => notifySync("READY=1", { unsetEnv: true }), isHandoverError("EINVAL"));
    assert.equal(process.env.NOTIFY_SOCKET, undefined);
  }),
);

it(
  "the pid option sends SCM_CREDENTIALS for another process; a pid the kernel refuses is resent as ourselves",
  guarded(() =>
    withReceiver("path", async (receiver) => {
      const sleeper = spawn("sleep", ["30"], { stdio: "ignore" });
      try {
        assert.ok(sleeper.pid !== undefined);
        assert.equal(await notify("MAINPID=1", { pid: sleeper.pid }), true);
        const got = await receiver.receive();
        // Root may speak for another process (CAP_SYS_ADMIN); others get our pid, see the fallback below.
        assert.equal(got.credentials?.pid, process.getuid?.() === 0 ? sleeper.pid : process.pid);
        assert.equal(got.text, "MAINPID=1");
        // A pid that does not exist: the kernel says ESRCH, and the message goes out with our own.
        const [readEnd, writeEnd] = pipe();
        try {
          assert.equal(notifySync("X=fallback", { pid: 2147483646, fds: [writeEnd] }), true);
          const fallback = await receiver.receive();
          assert.equal(fallback.text, "X=fallback");
          assert.equal(fallback.credentials?.pid, process.pid);
          assert.equal(fallback.fds.length, 1);
          fallback.fds.forEach(close);
        } finally {
          close(readEnd);
          close(writeEnd);
        }
        // Our own pid adds no credentials (libsystemd sends none): the kernel's are ours anyway.
        assert.equal(await notify("X=own", { pid: process.pid }), true);
        assert.equal((await receiver.receive()).credentials?.pid, process.pid);
      } finally {
        sleeper.kill("SIGKILL");
      }
    })
  ),
);

it(
  "an unprivileged sender's pid option is refused by the kernel (EPERM) and resent with its own pid",
  { skip: process.getuid?.() !== 0 ? "needs root to switch to an unprivileged user" : false },
  guarded(async () => {
    const receiver = NotifyReceiver.open("abstract");
    try {
      const [command, argv] = runtimeArgv(join(FIXTURES, "notify_as.ts"));
      const home = mkdtempSync(join(tmpdir(), "ho-nobody-"));
      chownSync(home, 65534, 65534);
      const result = await run(
        "setpriv",
        ["--reuid=65534", "--regid=65534", "--clear-groups", command, ...argv, receiver.address],
        { timeoutMs: 60_000, env: { ...process.env, HOME: home, DENO_DIR: join(home, "deno"), TMPDIR: home } },
      ).finally(() => rmSync(home, { recursive: true, force: true }));
      const report = lastJson<{ sent: boolean; pid: number; uid: number }>(result);
      assert.equal(report.sent, true, result.stderr);
      const got = await receiver.receive();
      assert.equal(got.text, "X=as-nobody");
      assert.equal(got.credentials?.pid, report.pid);
      assert.equal(got.credentials?.uid, 65534);
    } finally {
      receiver.close();
    }
  }),
);

it(
  "when the receiver's queue is full, notify() waits without blocking the event loop and delivers every message in order",
  guarded(() =>
    withReceiver("path", async (receiver) => {
      // More messages than the receiver's queue holds (net.unix.max_dgram_qlen: 10 by default, 512 under systemd).
      const qlen = Number(readFileSync("/proc/sys/net/unix/max_dgram_qlen", "utf8"));
      const count = Math.min(5000, Math.max(300, qlen + 200));
      const promises: Promise<boolean>[] = [];
      for (let i = 0; i < count; i++) promises.push(notify(`SEQ=${i}`));
      // The queue holds net.unix.max_dgram_qlen datagrams; the rest wait.
      let settled = 0;
      promises.forEach((p) => p.then(() => settled++));
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      await sleep(50);
      assert.ok(settled < count, `expected some messages to wait, ${settled} of ${count} were sent`);
      const received: string[] = [];
      const deadline = Date.now() + 30_000;
      while (received.length < count && Date.now() < deadline) {
        const got = receiver.tryReceive();
        if (got === undefined) await sleep(1);
        else received.push(got.text);
      }
      clearInterval(timer);
      assert.ok(ticks > 5, `the event loop ran timers while messages waited (${ticks})`);
      assert.deepEqual(await Promise.all(promises), new Array(count).fill(true));
      assert.deepEqual(received, Array.from({ length: count }, (_, i) => `SEQ=${i}`));
    })
  ),
);

it(
  "with timeoutMs, a message that cannot get into a full queue rejects ETIMEDOUT and is not sent",
  guarded(() =>
    withReceiver("path", async (receiver) => {
      // Fill the receiver's queue behind notify()'s back, on the socket it keeps.
      assert.equal(await notify("FILL=first"), true);
      const { libc, c } = system();
      const fill = new TextEncoder().encode("FILL=1");
      let queued = 1;
      while (
        queued < 100_000 && libc.sendto(notifySocketFd()!, fill, fill.length, c.MSG_DONTWAIT, null, 0) >= 0
      ) queued++;
      assert.ok(queued < 100_000, "the queue never filled");
      await assert.rejects(notify("LATE=1", { timeoutMs: 100 }), isHandoverError("ETIMEDOUT", /within 100 ms/));
      const texts = receiver.drain();
      assert.equal(texts.length, queued);
      assert.ok(!texts.includes("LATE=1"));
      // The queue is free again: the next message goes through.
      assert.equal(await notify("AFTER=1", { timeoutMs: 1000 }), true);
      assert.equal((await receiver.receive()).text, "AFTER=1");
    })
  ),
);

it(
  "barrier() resolves when the receiver closes the fd, and rejects ETIMEDOUT when it keeps it",
  guarded(() =>
    withReceiver("path", async (receiver) => {
      const done = barrier(10_000);
      const got = await receiver.receive();
      assert.equal(got.text, "BARRIER=1");
      assert.equal(got.fds.length, 1);
      let resolved = false;
      done.then(() => resolved = true);
      await sleep(50);
      assert.equal(resolved, false, "barrier() resolved before the receiver closed the fd");
      got.fds.forEach(close);
      assert.equal(await done, true);

      const late = barrier(150);
      const kept = await receiver.receive();
      try {
        await assert.rejects(late, isHandoverError("ETIMEDOUT", /within 150 ms/));
      } finally {
        kept.fds.forEach(close);
      }
    })
  ),
);

it(
  "the helpers send what sd_notify(3) documents",
  guarded(() =>
    withReceiver("path", async (receiver) => {
      const [readEnd, writeEnd] = pipe();
      try {
        // The receiver's queue holds only net.unix.max_dgram_qlen (often 10) messages: read as we go.
        const texts: string[] = [];
        const sends: (() => Promise<boolean>)[] = [
          () => ready(),
          () => ready("Serving"),
          () => stopping("Bye"),
          () => status("42 requests"),
          () => notifyErrno("ENOENT"),
          () => notifyErrno(98),
          () => mainPid(4242),
          () => extendTimeout(1500),
          () => watchdog(),
          () => watchdog("trigger"),
          () => fdStore("web", [writeEnd], { poll: false }),
          () => fdStoreRemove("web"),
        ];
        for (const send of sends) {
          assert.equal(await send(), true);
          const got = await receiver.receive();
          got.fds.forEach((fd) => close(fd));
          texts.push(got.text);
        }
        assert.deepEqual(texts, [
          "READY=1",
          "READY=1\nSTATUS=Serving",
          "STOPPING=1\nSTATUS=Bye",
          "STATUS=42 requests",
          "ERRNO=2",
          "ERRNO=98",
          "MAINPID=4242",
          "EXTEND_TIMEOUT_USEC=1500000",
          "WATCHDOG=1",
          "WATCHDOG=trigger",
          "FDSTORE=1\nFDNAME=web\nFDPOLL=0",
          "FDSTOREREMOVE=1\nFDNAME=web",
        ]);
        await assert.rejects(notifyErrno("ENOTANERRNO"), TypeError);
        await assert.rejects(extendTimeout(0), RangeError);
        await assert.rejects(watchdog("now" as never), TypeError);
      } finally {
        close(readEnd);
        close(writeEnd);
      }
    })
  ),
);

async function pythonMonotonic(): Promise<bigint> {
  const r = await run("python3", ["-c", "import time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000)"]);
  assert.equal(r.code, 0, r.stderr);
  return BigInt(r.stdout.trim());
}

it(
  "reloading() sends RELOADING=1 with MONOTONIC_USEC read from CLOCK_MONOTONIC, in one message",
  guarded(() =>
    withReceiver("path", async (receiver) => {
      const before = await pythonMonotonic();
      const mine = monotonicMicroseconds();
      await reloading("Reloading configuration");
      const after = await pythonMonotonic();
      assert.ok(before <= mine && mine <= after, `${before} <= ${mine} <= ${after}`);
      const got = await receiver.receive();
      const match = /^RELOADING=1\nMONOTONIC_USEC=(\d+)\nSTATUS=Reloading configuration$/.exec(got.text);
      assert.ok(match, got.text);
      const sent = BigInt(match[1]!);
      assert.ok(mine <= sent && sent <= after, `${mine} <= ${sent} <= ${after}`);
    })
  ),
);

// ---------------------------------------------------------------- watchdog

function withWatchdogEnv(usec: string | undefined, pid: string | undefined, body: () => void): void {
  const saved = [process.env.WATCHDOG_USEC, process.env.WATCHDOG_PID];
  try {
    if (usec === undefined) delete process.env.WATCHDOG_USEC;
    else process.env.WATCHDOG_USEC = usec;
    if (pid === undefined) delete process.env.WATCHDOG_PID;
    else process.env.WATCHDOG_PID = pid;
    body();
  } finally {
    if (saved[0] === undefined) delete process.env.WATCHDOG_USEC;
    else process.env.WATCHDOG_USEC = saved[0];
    if (saved[1] === undefined) delete process.env.WATCHDOG_PID;
    else process.env.WATCHDOG_PID = saved[1];
  }
}

it("watchdogInterval() reads WATCHDOG_USEC and WATCHDOG_PID like sd_watchdog_enabled()", () => {
  withWatchdogEnv(undefined, undefined, () => assert.equal(watchdogInterval(), null));
  withWatchdogEnv("2000000", undefined, () => assert.equal(watchdogInterval(), 2000));
  withWatchdogEnv("1500", String(process.pid), () => assert.equal(watchdogInterval(), 1.5));
  withWatchdogEnv("2000000", String(process.pid === 1 ? 2 : 1), () => assert.equal(watchdogInterval(), null));
  for (const usec of ["0", "", "abc", "-5", "1e6", " 5", "18446744073709551615"]) {
    withWatchdogEnv(usec, undefined, () => {
      assert.throws(() => watchdogInterval(), isHandoverError("EINVAL", /WATCHDOG_USEC/), usec);
    });
  }
  for (const pid of ["0", "x", "-1", ""]) {
    withWatchdogEnv("1000000", pid, () => {
      assert.throws(() => watchdogInterval(), isHandoverError("EINVAL", /WATCHDOG_PID/), pid);
    });
  }
  withWatchdogEnv("1000000", String(process.pid), () => {
    assert.equal(watchdogInterval({ unsetEnv: true }), 1000);
    assert.equal(process.env.WATCHDOG_USEC, undefined);
    assert.equal(process.env.WATCHDOG_PID, undefined);
  });
});

it(
  "startWatchdog() pings at half the interval, skips pings while the health check fails, and stops",
  guarded(() =>
    withReceiver("path", async (receiver) => {
      withWatchdogEnv(undefined, undefined, () => assert.equal(startWatchdog(), null));
      let healthy = true;
      const started: WatchdogKeepAlive[] = [];
      withWatchdogEnv("200000", undefined, () => {
        started.push(startWatchdog(() => healthy)!);
      });
      const timer = started[0]!;
      try {
        assert.equal(timer.intervalMs, 100);
        await sleep(450);
        const pings = receiver.drain();
        // At once, then every 100 ms: 5 in 450 ms on a quiet machine; allow for load.
        assert.ok(pings.length >= 2 && pings.length <= 6, `${pings.length} pings`);
        assert.ok(pings.every((p) => p === "WATCHDOG=1"));
        healthy = false;
        await sleep(120);
        receiver.drain();
        await sleep(300);
        assert.deepEqual(receiver.drain(), [], "no pings while unhealthy");
        healthy = true;
        await sleep(400);
        assert.ok(receiver.drain().length >= 1, "pings again once healthy");
      } finally {
        timer.stop();
      }
      await sleep(250);
      assert.deepEqual(receiver.drain(), [], "no pings after stop()");
    })
  ),
);

it("startWatchdog()'s timer never keeps the process alive by itself", async () => {
  const receiver = NotifyReceiver.open("abstract");
  try {
    const started = Date.now();
    const result = await runFixture("watchdog_exit.ts", [], {
      env: { ...process.env, NOTIFY_SOCKET: receiver.address, WATCHDOG_USEC: "60000000" },
      timeoutMs: 60_000,
    });
    const report = lastJson<{ intervalMs: number }>(result);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(report.intervalMs, 30_000);
    assert.ok(Date.now() - started < 25_000, "the child exited before its first timer ping");
    assert.equal((await receiver.receive()).text, "WATCHDOG=1");
  } finally {
    receiver.close();
  }
});

// ---------------------------------------------------------------- vsock

const vsockLoopback = existsSync("/sys/module/vsock_loopback");

it(
  "a vsock-stream NOTIFY_SOCKET delivers over AF_VSOCK loopback and waits for the receiver to close",
  {
    skip: vsockLoopback
      ? false
      : "AF_VSOCK loopback (the vsock_loopback module, CID 1) is not available on this kernel",
  },
  guarded(async () => {
    const { libc, c } = system();
    const listener = openSocket("vsock", "stream");
    const port = 40000 + (process.pid % 20000);
    try {
      bindSocket(listener, { family: "vsock", cid: c.VMADDR_CID_ANY, port });
      libc.listen(listener, 8);
      useNotifySocket(`vsock-stream:1:${port}`);
      const sending = notify("READY=1");
      const { acceptConnection } = await import("../src/fd/socket.ts");
      const { waitForFd } = await import("../mod.ts");
      await waitForFd(listener, "readable", { timeoutMs: 5000 });
      const conn = acceptConnection(listener)!;
      await waitForFd(conn, "readable", { timeoutMs: 5000 });
      assert.equal(readText(conn), "READY=1");
      close(conn);
      assert.equal(await sending, true);
    } finally {
      useNotifySocket(undefined);
      close(listener);
    }
  }),
);

it(
  "vsock NOTIFY_SOCKET values without a CID or with a bad port never reach socket(2)",
  guarded(async () => {
    try {
      for (const value of ["vsock::1", "vsock-stream:2:4294967295", "vsock-dgram:host:x"]) {
        useNotifySocket(value);
        await assert.rejects(notify("READY=1"), isHandoverError("EINVAL"));
      }
    } finally {
      useNotifySocket(undefined);
    }
  }),
);
