import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { it } from "node:test";
import { close, fdFlags, HandoverError, socketpair } from "../mod.ts";
import type { StartupModule } from "../src/backend.ts";
import { DARWIN, LINUX } from "../src/constants.ts";
import { FD_FLAG_COMMANDS } from "../src/startup_symbols.ts";
import { errnoError, errnoName, errnoNumber } from "../src/errno.ts";
import { openFirst } from "../src/library.ts";
import { platformOf } from "../src/platform.ts";
import { currentBackend } from "../src/system.ts";
import { cBuffer } from "../src/structs.ts";
import { LAUNCHD_SYMBOLS, LIBC_SYMBOLS, resolveSymbols } from "../src/symbols.ts";
import { system } from "../src/system.ts";
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

it("only src/runtime.ts and src/startup_loader.ts import runtimes/, and each backend names only its own FFI", () => {
  const loaders = [join("src", "runtime.ts"), join("src", "startup_loader.ts")];
  for (const file of [...sources("src"), "mod.ts", "activation.ts", ...sources("runtimes")]) {
    const intoRuntimes = importsOf(file).filter((i) => i.includes("runtimes/"));
    if (!loaders.includes(file)) assert.deepEqual(intoRuntimes, [], `${file} imports ${intoRuntimes}`);
  }
  for (const kind of ["", "_startup"]) {
    assert.doesNotMatch(code(`runtimes/deno${kind}.ts`), /bun:ffi|koffi/);
    assert.doesNotMatch(code(`runtimes/bun${kind}.ts`), /Deno\.|koffi/);
    assert.doesNotMatch(code(`runtimes/node${kind}.ts`), /Deno\.|bun:ffi/);
  }
});

it("the start-up entry loads only the environment rules and the start-up calls until the environment asks for more", () => {
  // Every module activation.ts reaches through static imports (dynamic ones load only when called for).
  const reached = new Set<string>();
  const visit = (file: string): void => {
    if (reached.has(file)) return;
    reached.add(file);
    for (const spec of [...code(file).matchAll(/^(?:import|export)[^"';]*?from\s*["']([^"']+)["']/gm)]) {
      const target = spec[1]!;
      if (target.startsWith(".") && !/^(?:import|export) type /.test(spec[0])) visit(join(dirname(file), target));
    }
  };
  visit("activation.ts");
  for (const runtime of ["deno", "bun", "node"]) visit(join("runtimes", `${runtime}_startup.ts`));
  assert.deepEqual(
    [...reached].sort(),
    [
      "activation.ts",
      ...["activation", "activation_api", "collect", "errors", "ffi", "library", "platform"]
        .map((name) => join("src", `${name}.ts`)),
      ...["startup", "startup_loader", "startup_symbols"].map((name) => join("src", `${name}.ts`)),
      ...["bun_startup", "deno_startup", "node_startup"].map((name) => join("runtimes", `${name}.ts`)),
    ].sort(),
  );
});

it("the start-up calls of this runtime read errno right after a failed fcntl, and the fd flag numbers are the platforms'", async () => {
  const { createStartupCalls } = await import(`../runtimes/${RUNTIME}_startup.ts`) as StartupModule;
  const calls = createStartupCalls();
  assert.equal(calls.runtime, RUNTIME);
  assert.equal(calls.pid, process.pid);
  assert.equal(calls.fcntl(987654, FD_FLAG_COMMANDS.F_GETFD, 0), -1);
  assert.equal(calls.errno(), 9); // EBADF
  const [a, b] = socketpair("stream");
  try {
    const flags = calls.fcntl(a, FD_FLAG_COMMANDS.F_GETFD, 0);
    assert.equal(flags & FD_FLAG_COMMANDS.FD_CLOEXEC, FD_FLAG_COMMANDS.FD_CLOEXEC);
    assert.equal(calls.fcntl(a, FD_FLAG_COMMANDS.F_SETFD, 0), 0);
    assert.equal(fdFlags(a).closeOnExec, false);
    assert.equal(calls.fcntl(a, FD_FLAG_COMMANDS.F_SETFD, FD_FLAG_COMMANDS.FD_CLOEXEC), 0);
    assert.equal(fdFlags(a).closeOnExec, true);
  } finally {
    close(a);
    close(b);
  }
  for (const [os, constants] of [["linux", LINUX], ["darwin", DARWIN]] as const) {
    assert.deepEqual(
      {
        F_GETFD: constants.F_GETFD,
        F_SETFD: constants.F_SETFD,
        FD_CLOEXEC: constants.FD_CLOEXEC,
        EBADF: errnoNumber(os, "EBADF"),
      },
      FD_FLAG_COMMANDS,
    );
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
  assert.equal(backend.libc.getpid(), process.pid);
});

it("errno is read right after a failed call, in every backend", () => {
  const { libc, backend } = system();
  assert.equal(libc.close(987654), -1);
  assert.equal(backend.errno(), 9);
  assert.equal(libc.sendto(987654, cBuffer(1), 1, 0, null, 0), -1);
  assert.equal(backend.errno(), 9);
});

it("the address of a subarray is its buffer's address plus its byteOffset", () => {
  const { backend } = system();
  const base = new Uint8Array(256);
  assert.equal(backend.address(base.subarray(40)) - backend.address(base), 40n);
});

it("a library that does not load fails with ELIBACC naming the runtime and every path", () => {
  assert.throws(() => system().backend.open("/nonexistent/libmissing.so", LAUNCHD_SYMBOLS), (e: unknown) => {
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
