/**
 * Node's FFI for the core: C functions bound with koffi, one at a time,
 * errno from `koffi.errno()`, and the environment through `process.env`,
 * whose deletion calls `unsetenv(3)` itself.
 *
 * @module
 */

import type { LibraryHandle } from "koffi";
import { libcCandidates, openFirst } from "../../src/ffi/library.ts";
import { platformOf } from "../../src/sys/platform.ts";
import { processFacts } from "./process.ts";
import type { Backend, NativeType, ProcessEnvironment, RawFunction } from "../../src/types.ts";
import { koffi } from "./koffi.ts";

/** The neutral types in koffi's words. */
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

/** `process.env`; Node's deletion calls unsetenv(3) itself. */
const nodeEnvironment: ProcessEnvironment = {
  get: (name) => process.env[name],
  peek: (name) => process.env[name],
  delete: (name) => {
    delete process.env[name];
  },
};

/**
 * Opens the C library through koffi.
 *
 * @returns The Node backend.
 * @throws {HandoverError} `ELIBACC` when no C library loads.
 *
 * @example
 * ```ts ignore
 * const backend = createBackend();
 * ```
 */
export function createBackend(): Backend {
  const platform = platformOf(process.platform, process.arch);
  const libraries = new Map<string, LibraryHandle>();
  const load = (path: string): LibraryHandle => {
    let library = libraries.get(path);
    if (library === undefined) libraries.set(path, library = koffi.load(path));
    return library;
  };
  const { path: libcPath } = openFirst("node", "the C library", libcCandidates(platform), load);
  return {
    runtime: "node",
    platform,
    libcPath,
    bind: (path, s) =>
      load(path).func(s.symbol, KOFFI_TYPES[s.result], s.parameters.map((t) => KOFFI_TYPES[t])) as RawFunction,
    errno: () => koffi.errno(),
    address: (buffer) => koffi.address(buffer),
    env: nodeEnvironment,
    ...processFacts,
  };
}
