/**
 * The Node backend: the neutral symbol tables bound with koffi.
 *
 * @module
 */

import type { Backend } from "../src/backend.ts";
import { koffi, koffiFunction, nodeEnvironment } from "./node_startup.ts";
import { libcCandidates, openFirst } from "../src/library.ts";
import { type Platform, platformOf } from "../src/platform.ts";
import {
  bindAll,
  type ForeignFunctions,
  lazyFunctions,
  LIBC_SYMBOLS,
  type LibcSymbols,
  resolveSymbols,
  type SymbolTable,
} from "../src/symbols.ts";

// Each function is bound at its first use: a process pays only for what it calls.
function bind<T extends SymbolTable>(platform: Platform, path: string, table: T): ForeignFunctions<T> {
  const library = koffi.load(path);
  return lazyFunctions<T>(
    resolveSymbols(table, platform),
    (s) => koffiFunction(library, s),
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
  return {
    runtime: "node",
    platform,
    libcPath,
    libc: libc as ForeignFunctions<LibcSymbols>,
    open: (path, table) => openFirst("node", path, [path], (p) => bindAll(bind(platform, p, table))).library,
    errno: () => koffi.errno(),
    address: (buffer) => koffi.address(buffer),
    env: nodeEnvironment,
    pid: process.pid,
    exit: (code) => process.exit(code),
    unrefTimer: (timer) => (timer as { unref(): void }).unref(),
  };
}
