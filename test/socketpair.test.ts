import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { it } from "node:test";
import {
  childStdio,
  close,
  fdFlags,
  HandoverError,
  MAX_FDS_PER_MESSAGE,
  openSocketStream,
  receiveFds,
  receiveFdsSync,
  sendFds,
  sendFdsSync,
  socketpair,
} from "../mod.ts";
import { cBuffer, readInt32 } from "../src/sys/memory.ts";
import { check, system } from "../src/ffi/system.ts";
import { guarded, lastJson, run, RUNTIME, runtimeArgv } from "./_helpers.ts";
import { join } from "node:path";
import { FIXTURES } from "./_helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function socketType(fd: number): number {
  const { libc, c } = system();
  const value = cBuffer(4);
  const length = cBuffer(4);
  length.set([4, 0, 0, 0]);
  check(libc.getsockopt(fd, c.SOL_SOCKET, c.SO_TYPE, value, length), "getsockopt");
  return readInt32(value, 0);
}

function pipe(): [number, number] {
  const { libc, c } = system();
  const fds = cBuffer(8);
  check(libc.pipe2(fds, c.O_CLOEXEC), "pipe2");
  return [readInt32(fds, 0), readInt32(fds, 4)];
}

function writeAll(fd: number, text: string): void {
  const bytes = cBuffer(text.length);
  bytes.set(encoder.encode(text));
  assert.equal(system().libc.write(fd, bytes, bytes.byteLength), bytes.byteLength);
}

function readSome(fd: number): string {
  const bytes = cBuffer(4096);
  const n = check(system().libc.read(fd, bytes, 4096), "read");
  return decoder.decode(bytes.subarray(0, n));
}

it(
  "socketpair() returns two open fds that are close-on-exec and non-blocking by default",
  guarded(() => {
    const [a, b] = socketpair();
    assert.ok(a >= 0 && b >= 0 && a !== b);
    assert.deepEqual(fdFlags(a), { closeOnExec: true, nonBlocking: true });
    assert.deepEqual(fdFlags(b), { closeOnExec: true, nonBlocking: true });
    assert.equal(socketType(a), system().c.SOCK_STREAM);
    close(a);
    close(b);
  }),
);

it(
  "socketpair() honours closeOnExec: false and nonBlocking: false",
  guarded(() => {
    const [a, b] = socketpair("stream", { closeOnExec: false, nonBlocking: false });
    assert.deepEqual(fdFlags(a), { closeOnExec: false, nonBlocking: false });
    assert.deepEqual(fdFlags(b), { closeOnExec: false, nonBlocking: false });
    close(a);
    close(b);
  }),
);

it(
  "socketpair() creates stream, dgram and seqpacket pairs of the right SO_TYPE",
  guarded(() => {
    const { c } = system();
    const expected = { stream: c.SOCK_STREAM, dgram: c.SOCK_DGRAM, seqpacket: c.SOCK_SEQPACKET } as const;
    for (const [type, value] of Object.entries(expected)) {
      const [a, b] = socketpair(type as keyof typeof expected);
      assert.equal(socketType(a), value, type);
      assert.equal(socketType(b), value, type);
      close(a);
      close(b);
    }
  }),
);

it(
  "socketpair() rejects an unknown type with a TypeError naming it",
  guarded(() => {
    assert.throws(() => socketpair("raw" as never), (e: unknown) => e instanceof TypeError && /"raw"/.test(e.message));
  }),
);

it("socketpair() throws EMFILE from socketpair(2) when the fd limit is reached", async () => {
  const [command, argv] = runtimeArgv(join(FIXTURES, "emfile.ts"));
  const quoted = [command, ...argv].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  const result = await run("/bin/sh", ["-c", `ulimit -n 256 && exec ${quoted}`], { timeoutMs: 60_000 });
  const report = lastJson<
    { pairs: number; name: string; code: string; errno: number; syscall: string; message: string }
  >(
    result,
  );
  assert.equal(result.code, 0, result.stderr);
  assert.ok(report.pairs > 10, `expected some pairs before the limit, got ${report.pairs}`);
  assert.equal(report.name, "HandoverError");
  assert.equal(report.code, "EMFILE");
  assert.equal(report.errno, 24);
  assert.equal(report.syscall, "socketpair");
  assert.match(report.message, /^socketpair\(\) failed with EMFILE: too many open files/);
});

it(
  "close() of an fd that is not open throws HandoverError EBADF from close(2)",
  guarded(() => {
    const [a, b] = socketpair();
    close(a);
    close(b);
    assert.throws(() => close(a), (e: unknown) => {
      assert.ok(e instanceof HandoverError);
      assert.equal(e.code, "EBADF");
      assert.equal(e.errno, 9);
      assert.equal(e.syscall, "close");
      return true;
    });
  }),
);

it("close() rejects non-integers with TypeError and negatives with RangeError", () => {
  assert.throws(() => close("3" as never), TypeError);
  assert.throws(() => close(1.5), TypeError);
  assert.throws(() => close(-1), RangeError);
});

it(
  "sendFds() passes a pipe end that still works on the other side",
  guarded(async () => {
    const [a, b] = socketpair();
    const [readEnd, writeEnd] = pipe();
    assert.equal(await sendFds(a, [writeEnd], "take this"), 9);
    close(writeEnd);
    const message = await receiveFds(b, { timeoutMs: 5000 });
    assert.equal(decoder.decode(message.data), "take this");
    assert.equal(message.fds.length, 1);
    assert.equal(message.truncated, false);
    const [received] = message.fds as [number];
    assert.notEqual(received, writeEnd === received ? -1 : writeEnd);
    assert.equal(fdFlags(received).closeOnExec, true);
    writeAll(received, "through the passed fd");
    close(received);
    assert.equal(readSome(readEnd), "through the passed fd");
    close(readEnd);
    close(a);
    close(b);
  }),
);

it(
  "sendFdsSync() passes several fds over a dgram pair, in order",
  guarded(() => {
    const [a, b] = socketpair("dgram");
    const pipes = [pipe(), pipe(), pipe()];
    sendFdsSync(a, pipes.map(([, w]) => w), "three");
    const message = receiveFdsSync(b);
    assert.equal(message.fds.length, 3);
    message.fds.forEach((fd, i) => {
      writeAll(fd, `pipe ${i}`);
      close(fd);
      assert.equal(readSome(pipes[i]![0]), `pipe ${i}`);
    });
    for (const [r, w] of pipes) {
      close(r);
      close(w);
    }
    close(a);
    close(b);
  }),
);

it(
  "sendFdsSync() passes 253 fds and refuses 254 with a RangeError",
  guarded(() => {
    const [a, b] = socketpair("seqpacket");
    const [r, w] = pipe();
    const many = new Array(MAX_FDS_PER_MESSAGE).fill(w);
    sendFdsSync(a, many, "many");
    const message = receiveFdsSync(b);
    assert.equal(message.fds.length, 253);
    for (const fd of message.fds) close(fd);
    assert.throws(() => sendFdsSync(a, [...many, w]), RangeError);
    close(r);
    close(w);
    close(a);
    close(b);
  }),
);

it(
  "receiveFds() reports truncation and leaks nothing when more fds arrive than fit",
  guarded(() => {
    const [a, b] = socketpair("dgram");
    const [r, w] = pipe();
    sendFdsSync(a, [w, w, w, w], "four");
    const message = receiveFdsSync(b, { maxFds: 2 });
    assert.equal(message.truncated, true);
    assert.equal(message.fds.length, 2);
    for (const fd of message.fds) close(fd);
    close(r);
    close(w);
    close(a);
    close(b);
  }),
);

it(
  "sendFdsSync() of a closed fd fails with EBADF from sendmsg(2) and sends nothing",
  guarded(() => {
    const [a, b] = socketpair("dgram");
    const [r, w] = pipe();
    close(r);
    close(w);
    assert.throws(
      () => sendFdsSync(a, [w]),
      (e: unknown) => e instanceof HandoverError && e.code === "EBADF" && e.syscall === "sendmsg",
    );
    assert.throws(() => receiveFdsSync(b), (e: unknown) => e instanceof HandoverError && e.code === "EAGAIN");
    close(a);
    close(b);
  }),
);

it(
  "receiveFds() times out with ETIMEDOUT when nothing arrives",
  guarded(async () => {
    const [a, b] = socketpair();
    const started = Date.now();
    await assert.rejects(
      receiveFds(b, { timeoutMs: 100 }),
      (e: unknown) => e instanceof HandoverError && e.code === "ETIMEDOUT",
    );
    assert.ok(Date.now() - started >= 90);
    close(a);
    close(b);
  }),
);

it(
  "openSocketStream() carries 1 MiB each way and ends when the peer closes its writable",
  guarded(async () => {
    const [a, b] = socketpair();
    const left = await openSocketStream(a);
    const right = await openSocketStream(b);
    const payload = new Uint8Array(1 << 20).map((_, i) => i % 251);
    const pump = async (from: typeof left, to: typeof right) => {
      const writer = from.writable.getWriter();
      const writing = (async () => {
        for (let i = 0; i < payload.length; i += 65536) await writer.write(payload.subarray(i, i + 65536));
        await writer.close();
      })();
      const reader = to.readable.getReader();
      const chunks: Uint8Array[] = [];
      let total = 0;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        chunks.push(value);
        total += value.byteLength;
      }
      await writing;
      const joined = new Uint8Array(total);
      let offset = 0;
      for (const chunk of chunks) {
        joined.set(chunk, offset);
        offset += chunk.byteLength;
      }
      return joined;
    };
    const [toRight, toLeft] = await Promise.all([pump(left, right), pump(right, left)]);
    assert.equal(toRight.byteLength, payload.byteLength);
    assert.deepEqual(toRight, payload);
    assert.deepEqual(toLeft, payload);
    await left.close();
    await right.close();
  }),
);

it(
  "childStdio() hands a pair end to a child in the same runtime at fd 3",
  guarded(async () => {
    const [mine, theirs] = socketpair();
    const [command, argv] = runtimeArgv(join(FIXTURES, "child_end.ts"));
    const child = spawn(command, argv, { stdio: childStdio({ 3: theirs }, ["ignore", "inherit", "inherit"]) });
    close(theirs);
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    const stream = await openSocketStream(mine);
    const writer = stream.writable.getWriter();
    await writer.write(encoder.encode("hello child\n"));
    const reader = stream.readable.getReader();
    let answer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      answer += decoder.decode(value);
    }
    assert.equal(answer, `${child.pid}:HELLO CHILD\n`);
    assert.equal(await exited, 0);
    await stream.close();
  }),
);

it(
  "childStdio() places fds at the chosen numbers, with gaps ignored",
  guarded(async () => {
    const [mine, theirs] = socketpair();
    const stdio = childStdio({ 5: theirs }, ["ignore", "pipe", "inherit"]);
    assert.deepEqual(stdio, ["ignore", "pipe", "inherit", "ignore", "ignore", theirs]);
    const result = await new Promise<string>((resolve, reject) => {
      const child = spawn("/bin/sh", ["-c", "echo via-five >&5; readlink /proc/self/fd/5"], { stdio });
      let out = "";
      child.stdout!.setEncoding("utf8").on("data", (d: string) => out += d);
      child.on("error", reject);
      child.on("close", () => resolve(out));
    });
    close(theirs);
    assert.match(result, /^socket:\[\d+\]\n$/);
    const message = receiveFdsSync(mine);
    assert.equal(decoder.decode(message.data), "via-five\n");
    close(mine);
    assert.throws(() => childStdio({ 2: theirs }), RangeError);
  }),
);

it(
  "Bun.spawn() takes the childStdio() array too",
  { skip: RUNTIME !== "bun" && "Bun.spawn exists only in Bun" },
  guarded(async () => {
    const [mine, theirs] = socketpair();
    const bun =
      (globalThis as unknown as { Bun: { spawn(cmd: string[], o: object): { exited: Promise<number> } } }).Bun;
    const child = bun.spawn(["/bin/sh", "-c", "printf bun-child >&3"], { stdio: childStdio({ 3: theirs }) });
    close(theirs);
    assert.equal(await child.exited, 0);
    const message = await receiveFds(mine, { timeoutMs: 5000 });
    assert.equal(decoder.decode(message.data), "bun-child");
    close(mine);
  }),
);
