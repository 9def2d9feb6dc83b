/**
 * Loading koffi, Node's FFI. The short way where that is safe
 * ({@link loadKoffi}): its native module straight from its prebuilt package,
 * which takes about 2 ms, where `require("koffi")` takes about 6.5 (resolving
 * its exports map, detecting the platform, probing for the binary) before it
 * loads the same file.
 *
 * @module
 */

import type koffiModule from "koffi";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";

// musl's dynamic loader by Node's name for the architecture: where it exists, koffi's own loader decides
// between its glibc and musl binaries (from the ELF header of the running node).
const MUSL_LOADERS: Readonly<Record<string, string>> = {
  x64: "/lib/ld-musl-x86_64.so.1",
  arm64: "/lib/ld-musl-aarch64.so.1",
  ia32: "/lib/ld-musl-i386.so.1",
};

/**
 * Loads koffi. The short way: its native module (which is the whole API;
 * koffi's JavaScript only finds it and adds deprecated aliases) from the
 * prebuilt package koffi depends on, `@koromix/koffi-<os>-<arch>`, at
 * `<os>_<arch>/koffi.node`, when the architecture is one whose binary koffi
 * does not choose by ABI (x64, arm64, ia32), the C library cannot be musl,
 * and the module is koffi 3. Otherwise, or when that fails (another layout, a
 * package manager that does not hoist it, a build from source), koffi's own
 * loader: `require("koffi")`. Both load the same file, and Node loads a
 * native module once per process, so a program that also uses koffi shares
 * it.
 *
 * @param load `require` from this module (tests pass their own).
 * @param platform `process.platform`.
 * @param arch `process.arch`.
 * @param isFile Whether a path exists (`existsSync`).
 * @returns koffi.
 * @throws {Error} What `require("koffi")` throws when neither way loads it.
 *
 * @example
 * ```ts ignore
 * const koffi = loadKoffi(createRequire(import.meta.url));
 * koffi.load("libc.so.6");
 * ```
 */
export function loadKoffi(
  load: (specifier: string) => unknown,
  platform: string = process.platform,
  arch: string = process.arch,
  isFile: (path: string) => boolean = existsSync,
): typeof koffiModule {
  const musl = MUSL_LOADERS[arch];
  if (musl !== undefined && !(platform === "linux" && isFile(musl))) {
    try {
      const native = load(`@koromix/koffi-${platform}-${arch}/${platform}_${arch}/koffi.node`) as
        | Partial<typeof koffiModule>
        | undefined;
      if (typeof native?.load === "function" && String(native.version).startsWith("3.")) {
        return native as typeof koffiModule;
      }
    } catch {
      // Not there, or not loadable here: koffi's own loader knows more.
    }
  }
  return load("koffi") as typeof koffiModule;
}

/** koffi, loaded once for the process. */
export const koffi: typeof koffiModule = loadKoffi(createRequire(import.meta.url));
