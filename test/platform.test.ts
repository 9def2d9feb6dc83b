import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { it } from "node:test";
import { close, fdFlags, HandoverError, socketpair } from "../mod.ts";
import { DARWIN, LINUX } from "../src/sys/constants.ts";
import { errnoError, errnoName, errnoNumber } from "../src/sys/errno.ts";
import { openFirst } from "../src/ffi/library.ts";
import { platformOf } from "../src/sys/platform.ts";
import { cBuffer } from "../src/sys/memory.ts";
import { LAUNCHD_SYMBOLS, LIBC_SYMBOLS } from "../src/ffi/symbols.ts";
import { resolveSymbols } from "../src/ffi/bind.ts";
import { currentBackend, libc, openLibrary, system } from "../src/ffi/system.ts";
import { lastJson, ROOT, runFixture, RUNTIME } from "./_helpers.ts";

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(".ts"))
    .map((f) => join(dir, f));
}

function code(file: string): string {
  // Strip comments so that documentation may name things the code must not touch.
  return readFileSync(join(ROOT, file), "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])\/\/.*$/gm, "$1");
}

it("src/ never names Deno.dlopen, bun:ffi or koffi, nor Deno.* or Bun.* APIs", () => {
  for (const file of sources("src")) {
    const text = code(file);
    assert.doesNotMatch(text, /Deno\.dlopen|bun:ffi|koffi/, file);
    assert.doesNotMatch(text, /\bDeno\.[a-zA-Z]|\bBun\.[a-zA-Z]/, file);
  }
});

const importsOf = (file: string): string[] =>
  [...code(file).matchAll(/(?:import|export)[^"';]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']/g)]
    .map((m) => m[1] ?? m[2]!);

it("only src/ffi/loader.ts imports runtimes/, and each runtime's files name only its own FFI", () => {
  const loader = join("src", "ffi", "loader.ts");
  for (const file of [...sources("src"), "mod.ts", "activation.ts", ...sources("runtimes")]) {
    const intoRuntimes = importsOf(file).filter((i) => i.includes("runtimes/"));
    if (file !== loader) assert.deepEqual(intoRuntimes, [], `${file} imports ${intoRuntimes}`);
  }
  for (const file of sources(join("runtimes", "deno"))) assert.doesNotMatch(code(file), /bun:ffi|koffi/, file);
  for (const file of sources(join("runtimes", "bun"))) assert.doesNotMatch(code(file), /Deno\.|koffi/, file);
  for (const file of sources(join("runtimes", "node"))) assert.doesNotMatch(code(file), /Deno\.|bun:ffi/, file);
  // One folder per runtime, and nothing else there.
  assert.deepEqual(readdirSync(join(ROOT, "runtimes")).sort(), ["bun", "deno", "node"]);
});

/** Every module `entry` reaches through static imports (dynamic ones load only when called for). */
function staticGraph(...entries: string[]): Set<string> {
  const reached = new Set<string>();
  const visit = (file: string): void => {
    if (reached.has(file)) return;
    reached.add(file);
    for (const spec of [...code(file).matchAll(/^(?:import|export)[^"';]*?from\s*["']([^"']+)["']/gm)]) {
      const target = spec[1]!;
      if (target.startsWith(".") && !/^(?:import|export) type /.test(spec[0])) visit(join(dirname(file), target));
    }
  };
  for (const entry of entries) visit(entry);
  return reached;
}

it("the start-up entry is a subset of the main entry's module graph: activation and the FFI, no notify, serving or fd passing", () => {
  const runtimes = ["deno", "bun", "node"].map((runtime) => join("runtimes", runtime, "ffi.ts"));
  const startup = staticGraph("activation.ts", ...runtimes);
  const main = staticGraph("mod.ts", ...runtimes);
  const entries = ["activation.ts", join("src", "activation", "exports.ts")];
  for (const file of startup) {
    if (!entries.includes(file)) assert.ok(main.has(file), `${file} is not in mod.ts's graph`);
  }
  assert.deepEqual(
    [...startup].sort(),
    [
      ...entries,
      join("src", "init.ts"),
      ...["collect", "environment"].map((name) => join("src", "activation", `${name}.ts`)),
      ...["bind", "library", "loader", "symbols", "system"].map((name) => join("src", "ffi", `${name}.ts`)),
      ...["constants", "errno", "errors", "layout", "platform"].map((name) => join("src", "sys", `${name}.ts`)),
      ...runtimes,
      ...["koffi", "process"].map((name) => join("runtimes", "node", `${name}.ts`)),
    ].sort(),
  );
});

it("fcntl reads errno right after a failure in this runtime, and the fd flag numbers are the platforms'", () => {
  const { libc, backend, c } = system();
  assert.equal(backend.runtime, RUNTIME);
  assert.equal(backend.pid, process.pid);
  assert.equal(libc.fcntl(987654, c.F_GETFD, 0), -1);
  assert.equal(backend.errno(), 9); // EBADF
  const [a, b] = socketpair("stream");
  try {
    const flags = libc.fcntl(a, c.F_GETFD, 0);
    assert.equal(flags & c.FD_CLOEXEC, c.FD_CLOEXEC);
    assert.equal(libc.fcntl(a, c.F_SETFD, 0), 0);
    assert.equal(fdFlags(a).closeOnExec, false);
    assert.equal(libc.fcntl(a, c.F_SETFD, c.FD_CLOEXEC), 0);
    assert.equal(fdFlags(a).closeOnExec, true);
  } finally {
    close(a);
    close(b);
  }
  for (const constants of [LINUX, DARWIN]) {
    assert.deepEqual([constants.F_GETFD, constants.F_SETFD, constants.FD_CLOEXEC], [1, 2, 1]);
  }
});

it("Node loads koffi's native module straight from its prebuilt package, and koffi's own loader where that cannot be", {
  skip: RUNTIME === "node" ? false : "koffi is Node's FFI: this runs in the Node legs",
}, async () => {
  const report = lastJson<Record<string, unknown>>(await runFixture("koffi_load.ts"));
  const native = `@koromix/koffi-linux-${process.arch}/linux_${process.arch}/koffi.node`;
  // Only the native module: koffi's JavaScript loader (koffi/index.cjs, src/koffi/index.cjs) never ran.
  assert.deepEqual(report.loaded, [join(ROOT, "node_modules", native)]);
  assert.match(String(report.version), /^3\./);
  assert.equal(report.getfdOfStdin, true);
  assert.deepEqual(report.badFd, [-1, 9]); // EBADF
  assert.deepEqual(report.glibc, { asked: ["@koromix/koffi-linux-x64/linux_x64/koffi.node"], native: true });
  assert.deepEqual(report.musl, { asked: ["koffi"], native: false });
  assert.deepEqual(report.missing, {
    asked: ["@koromix/koffi-linux-arm64/linux_arm64/koffi.node", "koffi"],
    native: false,
  });
  assert.deepEqual(report.armByAbi, { asked: ["koffi"], native: false });
  assert.deepEqual(report.darwin, { asked: ["@koromix/koffi-darwin-arm64/darwin_arm64/koffi.node"], native: true });
  assert.deepEqual(report.koffi2, { asked: ["@koromix/koffi-linux-x64/linux_x64/koffi.node", "koffi"], native: false });
});

it("the backend for this runtime is the one detection chose", () => {
  const backend = currentBackend();
  assert.equal(backend.runtime, RUNTIME);
  assert.equal(backend.runtime, process.env.HANDOVER_TEST_RUNTIME?.replace("24", "") ?? backend.runtime);
  assert.equal(backend.platform.os, "linux");
  assert.equal(libc().getpid(), process.pid);
});

it("errno is read right after a failed call, in every backend", () => {
  const { libc, backend } = system();
  assert.equal(libc.close(987654), -1);
  assert.equal(backend.errno(), 9);
  assert.equal(libc.sendto(987654, cBuffer(1), 1, 0, null, 0), -1);
  assert.equal(backend.errno(), 9);
});

it("a C function answers the same before and after Deno compiles its trampoline (at its 64th call), errno too", () => {
  // A library of its own: functions fresh from the backend, whatever the suite called before. In Deno the first 63
  // calls go through Deno.UnsafeFnPointer and the later ones through the compiled trampoline; Bun and Node bind
  // once, and must answer the same.
  // Rare, as the table calls adoption's functions: only those go through Deno.UnsafeFnPointer first.
  const table = {
    getppid: { parameters: [], result: "i32", rare: true },
    close: { parameters: ["i32"], result: "i32", rare: true },
    write: { parameters: ["i32", "buffer", "usize"], result: "isize", rare: true },
    read: { parameters: ["i32", "buffer", "usize"], result: "isize", rare: true },
  } as const;
  const fresh = openLibrary(currentBackend().libcPath, table);
  // A function taken out of the table at the start, as a caller may keep it, answers across the change too.
  const kept = fresh.getppid;
  const [a, b] = socketpair("stream");
  try {
    const out = new TextEncoder().encode("hello");
    const into = cBuffer(16);
    for (let i = 0; i < 200; i++) {
      assert.equal(fresh.getppid(), process.ppid, `getppid, call ${i + 1}`);
      assert.equal(kept(), process.ppid, `getppid kept from before, call ${i + 1}`);
      assert.equal(fresh.close(987654), -1, `close, call ${i + 1}`);
      assert.equal(currentBackend().errno(), 9, `errno after close, call ${i + 1}`);
      assert.equal(fresh.write(a, out.subarray(i % 5), 5 - (i % 5)), 5 - (i % 5), `write, call ${i + 1}`);
      const n = fresh.read(b, into, into.byteLength);
      assert.equal(typeof n, "number");
      assert.equal(new TextDecoder().decode(into.subarray(0, n)), "hello".slice(i % 5), `read, call ${i + 1}`);
    }
  } finally {
    close(a);
    close(b);
  }
});

it("the address of a subarray is its buffer's address plus its byteOffset", () => {
  const { backend } = system();
  const base = new Uint8Array(256);
  assert.equal(backend.address(base.subarray(40)) - backend.address(base), 40n);
});

it("a library that does not load fails with ELIBACC naming the runtime and every path", () => {
  assert.throws(() => openLibrary("/nonexistent/libmissing.so", LAUNCHD_SYMBOLS), (e: unknown) => {
    assert.ok(e instanceof HandoverError);
    assert.equal(e.code, "ELIBACC");
    assert.match(e.message, new RegExp(`${RUNTIME} backend could not load /nonexistent/libmissing.so`));
    return true;
  });
  assert.throws(() =>
    openFirst("deno", "the C library", ["a.so", "b.so"], (p) => {
      throw new Error(`no ${p}`);
    }), /tried a.so: no a.so; b.so: no b.so/);
});

it("the symbol table resolves per platform: Linux-only calls, Darwin names, Apple arm64 variadic padding", () => {
  const linux = resolveSymbols(LIBC_SYMBOLS, { os: "linux", arch: "x86_64" });
  const names = linux.map((s) => s.name);
  assert.ok(names.includes("accept4") && names.includes("epoll_ctl") && names.includes("statx"));
  assert.ok(!names.includes("fstat"));
  const macX86 = resolveSymbols(LIBC_SYMBOLS, { os: "darwin", arch: "x86_64" });
  assert.equal(macX86.find((s) => s.name === "fstat")?.symbol, "fstat$INODE64");
  assert.ok(!macX86.some((s) => s.name === "accept4" || s.name === "epoll_ctl"));
  const fcntlArm = resolveSymbols(LIBC_SYMBOLS, { os: "darwin", arch: "aarch64" }).find((s) => s.name === "fcntl")!;
  assert.equal(fcntlArm.parameters.length, 9);
  assert.equal(fcntlArm.padAt, 2);
  assert.equal(fcntlArm.padCount, 6);
  const fcntlLinux = linux.find((s) => s.name === "fcntl")!;
  assert.equal(fcntlLinux.padCount, 0);
});

it("platformOf() names the unsupported platform", () => {
  assert.deepEqual(platformOf("darwin", "arm64"), { os: "darwin", arch: "aarch64" });
  assert.throws(
    () => platformOf("win32", "x64"),
    (e: unknown) => e instanceof HandoverError && e.code === "ENOTSUP" && /this is win32 on x64/.test(e.message),
  );
});

it("errno names differ per OS, and errnoError() is shaped like Node's system errors", () => {
  assert.equal(errnoName("linux", 11), "EAGAIN");
  assert.equal(errnoName("darwin", 35), "EAGAIN");
  assert.equal(errnoName("linux", 9999), "E9999");
  assert.equal(errnoNumber("darwin", "EALREADY"), 37);
  const error = errnoError("linux", "bind", 98, "127.0.0.1:80");
  assert.ok(error instanceof Error && error instanceof HandoverError);
  assert.equal(error.name, "HandoverError");
  assert.equal(error.code, "EADDRINUSE");
  assert.equal(error.errno, 98);
  assert.equal(error.syscall, "bind");
  assert.equal(error.message, "bind() failed with EADDRINUSE: address already in use (127.0.0.1:80)");
});
