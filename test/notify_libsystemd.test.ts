// libsystemd as the reference: for each message, what our notifySync() sends
// and what libsystemd's own sd_pid_notify_with_fds() (python3 ctypes on
// libsystemd.so.0) sends must arrive at the same receiver as the same
// datagram: the same bytes, the same ancillary data (the same open files
// passed, in order, and credentials that name the right process).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";
import { childStdio, close, formatNotifyState, type NotifyState, notifySync } from "../mod.ts";
import { statFd } from "../src/fd/inspect.ts";
import { FIXTURES, guarded, lastJson, run } from "./_helpers.ts";
import { type Notification, pipe, withReceiver } from "./_notify.ts";

const LIBSYSTEMD = ["/lib/x86_64-linux-gnu/libsystemd.so.0", "/usr/lib/x86_64-linux-gnu/libsystemd.so.0"]
  .concat(["/lib/aarch64-linux-gnu/libsystemd.so.0", "/usr/lib/aarch64-linux-gnu/libsystemd.so.0"]);
const libsystemdSkip = LIBSYSTEMD.some((p) => existsSync(p)) ? false : "libsystemd.so.0 is not installed";

interface Case {
  readonly name: string;
  readonly state: string | NotifyState;
  readonly fds?: number;
  /** Send on behalf of: a live child process, or a pid that does not exist. */
  readonly pid?: "child" | "missing";
}

const CASES: readonly Case[] = [
  { name: "READY=1", state: "READY=1" },
  { name: "ready with a status", state: "READY=1\nSTATUS=Serving on :8080" },
  { name: "a typed object", state: { ready: true, status: "typed", mainPid: 4242 } },
  { name: "UTF-8 status", state: "STATUS=ünïcødé ✓ — 日本語" },
  { name: "watchdog ping", state: "WATCHDOG=1" },
  { name: "reloading", state: { reloading: true, monotonicUsec: 123456789n } },
  { name: "custom key, = in the value, trailing newline", state: "X_CUSTOM=a=b\n" },
  { name: "an empty message", state: "" },
  { name: "4096 bytes", state: "STATUS=" + "x".repeat(4089) },
  { name: "fd store, one fd", state: { fdStore: true, fdName: "web" }, fds: 1 },
  { name: "fd store, three fds, FDPOLL=0", state: { fdStore: true, fdName: "three", fdPoll: false }, fds: 3 },
  { name: "barrier", state: "BARRIER=1", fds: 1 },
  { name: "on behalf of another process", state: "MAINPID=1\nSTATUS=child", pid: "child" },
  { name: "on behalf of another process, with fds", state: "FDSTORE=1\nFDNAME=theirs", pid: "child", fds: 2 },
  { name: "on behalf of a pid that does not exist (fallback)", state: "STATUS=fallback", pid: "missing", fds: 1 },
];

const MISSING_PID = 2147483646;

async function sendWithLibsystemd(address: string, text: string, fds: readonly number[], pid: number): Promise<number> {
  const targets: Record<number, number> = {};
  fds.forEach((fd, i) => targets[3 + i] = fd);
  const request = JSON.stringify({ state: text, pid, fds: fds.map((_, i) => 3 + i) });
  const result = await run("python3", [join(FIXTURES, "sd_notify.py"), request], {
    stdio: childStdio(targets, ["pipe", "pipe", "pipe"]),
    env: { ...process.env, NOTIFY_SOCKET: address },
    timeoutMs: 30_000,
  });
  const report = lastJson<{ rc: number; pid: number }>(result);
  assert.equal(report.rc, 1, `sd_pid_notify_with_fds() returned ${report.rc}: ${result.stderr}`);
  return report.pid;
}

function describe(got: Notification): { inodes: bigint[] } {
  const inodes = got.fds.map((fd) => statFd(fd).ino);
  got.fds.forEach((fd) => close(fd));
  return { inodes };
}

it(
  "notifySync() sends the same datagram as libsystemd's sd_pid_notify_with_fds(), ancillary data included",
  { skip: libsystemdSkip },
  guarded(() =>
    withReceiver("path", async (receiver) => {
      const sleeper = spawn("sleep", ["60"], { stdio: "ignore" });
      const root = process.getuid?.() === 0;
      try {
        for (const c of CASES) {
          const text = typeof c.state === "string" ? c.state : formatNotifyState(c.state);
          const pipes = Array.from({ length: c.fds ?? 0 }, () => pipe());
          const fds = pipes.map(([, w]) => w);
          const pid = c.pid === "child" ? sleeper.pid! : c.pid === "missing" ? MISSING_PID : 0;
          try {
            assert.equal(notifySync(c.state, { fds, ...(pid !== 0 ? { pid } : {}) }), true, c.name);
            const ours = await receiver.receive();
            const theirPid = await sendWithLibsystemd(receiver.address, text, fds, pid);
            const theirs = await receiver.receive();

            assert.deepEqual(ours.bytes, theirs.bytes, `${c.name}: bytes`);
            assert.deepEqual(ours.bytes, new TextEncoder().encode(text), `${c.name}: bytes as given`);
            assert.equal(ours.controlLength, theirs.controlLength, `${c.name}: ancillary data size`);
            assert.equal(ours.truncated, false);
            assert.equal(theirs.truncated, false);
            const [a, b] = [describe(ours), describe(theirs)];
            const expected = fds.map((fd) => statFd(fd).ino);
            assert.deepEqual(a.inodes, expected, `${c.name}: our fds are the files passed, in order`);
            assert.deepEqual(b.inodes, expected, `${c.name}: libsystemd's fds are the same files`);
            // Credentials: the other process when privileged, else (and for a
            // pid that does not exist) the sender itself, for both.
            const speaksFor = c.pid === "child" && root;
            assert.equal(ours.credentials?.pid, speaksFor ? sleeper.pid : process.pid, `${c.name}: our pid`);
            assert.equal(theirs.credentials?.pid, speaksFor ? sleeper.pid : theirPid, `${c.name}: libsystemd's pid`);
            assert.equal(ours.credentials?.uid, theirs.credentials?.uid);
            assert.equal(ours.credentials?.gid, theirs.credentials?.gid);
          } finally {
            pipes.forEach(([r, w]) => {
              close(r);
              close(w);
            });
          }
        }
      } finally {
        sleeper.kill("SIGKILL");
      }
    })
  ),
);
