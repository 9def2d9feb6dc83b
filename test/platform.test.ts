import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";
import { HandoverError } from "../mod.ts";
import { errnoError } from "../src/errors.ts";
import { errnoName, errnoNumber } from "../src/errno.ts";
import { openFirst } from "../src/library.ts";
import { platformOf } from "../src/platform.ts";
import { currentBackend } from "../src/system.ts";
import { cBuffer } from "../src/structs.ts";
import { LAUNCHD_SYMBOLS, LIBC_SYMBOLS, resolveSymbols } from "../src/symbols.ts";
import { system } from "../src/system.ts";
import { ROOT, RUNTIME } from "./_helpers.ts";

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

it("only src/runtime.ts imports runtimes/, and each backend names only its own FFI", () => {
  for (const file of [...sources("src"), "mod.ts", ...sources("runtimes")]) {
    const imports = [...code(file).matchAll(/(?:import|export)[^"']*?["']([^"']+)["']|import\(\s*["']([^"']+)["']/g)]
      .map((m) => m[1] ?? m[2]!);
    const intoRuntimes = imports.filter((i) => i.includes("runtimes/"));
    if (file !== join("src", "runtime.ts")) assert.deepEqual(intoRuntimes, [], `${file} imports ${intoRuntimes}`);
  }
  assert.doesNotMatch(code("runtimes/deno.ts"), /bun:ffi|koffi/);
  assert.doesNotMatch(code("runtimes/bun.ts"), /Deno\.|koffi/);
  assert.doesNotMatch(code("runtimes/node.ts"), /Deno\.|bun:ffi/);
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
