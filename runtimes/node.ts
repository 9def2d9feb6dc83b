/**
 * The Node backend: the neutral symbol tables bound with koffi.
 *
 * @module
 */

import type koffiModule from "koffi";
import { createRequire } from "node:module";
import type { Backend, ProcessEnvironment } from "../src/backend.ts";
import { libcCandidates, openFirst } from "../src/library.ts";
import { type Platform, platformOf } from "../src/platform.ts";
import {
  bindAll,
  type ForeignFunctions,
  lazyFunctions,
  LIBC_SYMBOLS,
  type LibcSymbols,
  type NativeType,
  resolveSymbols,
  type SymbolTable,
} from "../src/symbols.ts";

// koffi is CommonJS: require() loads it in about 6 ms where an ES import takes about 9.
const koffi = createRequire(import.meta.url)("koffi") as typeof koffiModule;

const KOFFI_TYPES: Readonly<Record<NativeType, string>> = {
  i32: "int32_t",
  u32: "uint32_t",
  usize: "size_t",
  isize: "intptr_t",
  // Typed arrays (and null) pass as pointers to their bytes.
  buffer: "void *",
  // Raw addresses travel as bigints.
  pointer: "uintptr_t",
  void: "void",
};

// Each function is bound at its first use: a process pays only for what it calls.
function bind<T extends SymbolTable>(platform: Platform, path: string, table: T): ForeignFunctions<T> {
  const library = koffi.load(path);
  return lazyFunctions<T>(
    resolveSymbols(table, platform),
    (s) => library.func(s.symbol, KOFFI_TYPES[s.result], s.parameters.map((t) => KOFFI_TYPES[t])),
    { runtime: "node", path },
  );
}

/**
 * Loads the C library through koffi.
 *
 * @returns The Node backend.
 */
export function createBackend(): Backend {
  const platform = platformOf(process.platform, process.arch);
  const { library: libc, path: libcPath } = openFirst(
    "node",
    "the C library",
    libcCandidates(platform),
    (path) => bind(platform, path, LIBC_SYMBOLS),
  );
  const env: ProcessEnvironment = {
    get: (name) => process.env[name],
    delete: (name) => {
      // Node's process.env deletion calls unsetenv(3) itself.
      delete process.env[name];
    },
  };
  return {
    runtime: "node",
    platform,
    libcPath,
    libc: libc as ForeignFunctions<LibcSymbols>,
    open: (path, table) => openFirst("node", path, [path], (p) => bindAll(bind(platform, p, table))).library,
    errno: () => koffi.errno(),
    address: (buffer) => koffi.address(buffer),
    env,
    pid: process.pid,
    exit: (code) => process.exit(code),
    unrefTimer: (timer) => (timer as { unref(): void }).unref(),
  };
}
